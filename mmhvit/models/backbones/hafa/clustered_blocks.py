"""The blocks of a clustered stage (after SIA): mmdet's PVT encoder layer
and Swin block, attending from SIA's merged tokens (HAFA Eq. 6)."""
from typing import Optional

import torch.nn.functional as F
from mmdet.models.backbones.pvt import (PVTEncoderLayer,
                                        SpatialReductionAttention)
from mmdet.models.backbones.swin import SwinBlock
from mmengine.model import ModuleDict
from torch import nn

from ...layers import heads_to_tokens, map2token, tokens_to_heads
from .aggregation import TokenState
from .attention import reduce_spatially


def _keys_and_values(norm, query, queries: TokenState,
                     source: Optional[TokenState], projection):
    """Keys, values and the token state they sit on, for a block of a
    clustered stage: the normalised merged tokens themselves (Q-K-V
    clustering, Tab. 5; ``projection`` None), or the block-normalised
    un-clustered tokens of the downsampled map through CvT's projections
    (Q clustering, Sec. 3.3)."""
    if projection is None:
        return query, query, queries
    kv_state = source.replace(norm(source.x))
    return (projection['key'](kv_state), projection['value'](kv_state),
            source)


class ClusteredPVTLayer(PVTEncoderLayer):
    """mmdet's PVT encoder layer with SIA's merged tokens as queries (HAFA
    Eq. 6): the same modules and weights, attending to the keys and values
    of :func:`_keys_and_values` with PVT's spatial reduction."""

    def forward(self, queries: TokenState, source: Optional[TokenState],
                projection: Optional[ModuleDict]) -> TokenState:
        """``M`` merged tokens ``(B, M, C)`` -> the same, updated."""
        x = queries.x
        query = self.norm1(x)
        keys, values, kv_state = _keys_and_values(self.norm1, query, queries,
                                                  source, projection)
        keys, values = (self._reduce(t, kv_state) for t in (keys, values))
        # SpatialReductionAttention's own forward takes one grid of tokens;
        # its parent, mmcv's multi-head attention (on SDPA in PVTHAFA:
        # SDPASpatialReductionAttention), takes any queries, keys and values
        # (batch first) and adds the residual
        x = super(SpatialReductionAttention, self.attn).forward(
            query, keys, values, identity=x)
        return queries.replace(self._ffn(self.norm2(x), queries, identity=x))

    def _reduce(self, x, state: TokenState):
        """PVT's spatial reduction of keys or values ``x`` laid out as
        ``state``: (B, N, C) -> (B, N', C)."""
        if self.attn.sr_ratio == 1:
            return x
        return reduce_spatially(self.attn, state.replace(x).to_map())

    def _ffn(self, x, state: TokenState, identity):
        """mmdet's MixFFN on tokens that need not form a grid: its 1x1
        convs and activations act per token; a depth-wise conv runs on the
        state's map and is read back at the tokens."""
        hidden = x.transpose(1, 2)[..., None]  # (B, C, N, 1): per token
        for layer in self.ffn.layers:
            if isinstance(layer, nn.Conv2d) and layer.kernel_size != (1, 1):
                tokens = hidden[..., 0].transpose(1, 2)  # (B, N, C')
                mapped = layer(state.replace(tokens).to_map())  # (B, C', H, W)
                hidden = map2token(mapped, state.tokens).transpose(1, 2)
                hidden = hidden[..., None]
            else:
                hidden = layer(hidden)
        out = hidden[..., 0].transpose(1, 2)  # (B, N, C)
        return identity + self.ffn.dropout_layer(out)


class ClusteredSwinBlock(SwinBlock):
    """mmdet's Swin block with SIA's merged tokens as queries: global
    attention (no windows, no relative position bias among clusters) with
    the block's qkv and output projections, dropouts and FFN."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # merged tokens have no positions in a window
        self.attn.w_msa.relative_position_bias_table = None

    def forward(self, queries: TokenState, source: Optional[TokenState],
                projection: Optional[ModuleDict]) -> TokenState:
        """``M`` merged tokens ``(B, M, C)`` -> the same, updated."""
        msa = self.attn.w_msa
        x = queries.x
        query = self.norm1(x)
        keys, values, _ = _keys_and_values(self.norm1, query, queries,
                                           source, projection)
        # q, k and v projections: the thirds of the window attention's qkv
        weights = msa.qkv.weight.chunk(3)
        biases = (None, ) * 3 if msa.qkv.bias is None else \
            msa.qkv.bias.chunk(3)
        q, k, v = (tokens_to_heads(F.linear(t, w, b), msa.num_heads)
                   for t, w, b in zip((query, keys, values), weights, biases))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=msa.attn_drop.p if self.training else 0.,
            scale=msa.scale)  # (B, h, M, d)
        x = x + self.attn.drop(msa.proj_drop(msa.proj(heads_to_tokens(out))))
        return queries.replace(self.ffn(self.norm2(x), identity=x))
