"""Splitting tokens into attention heads and back, shared by the
token-based attentions (HLG, ClusTR, HAFA, SETR's ViT); channels are
head-major, ``(num_heads, head_dim)``. And mmcv's ``MultiheadAttention``
computed by ``scaled_dot_product_attention`` (SETR's ViT, HAFA's PVT)."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import MultiheadAttention
from torch import nn

from .recompute import linear_after


def tokens_to_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, L, C)`` -> ``(B, h, L, C/h)``."""
    batch, length, _ = x.shape
    return x.view(batch, length, num_heads, -1).transpose(1, 2)


def heads_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, h, L, d)`` -> ``(B, L, h*d)``."""
    return x.transpose(1, 2).flatten(2)


def _projected_heads(x: torch.Tensor, weight: torch.Tensor,
                     bias: Optional[torch.Tensor], first: int, parts: int,
                     num_heads: int,
                     norm: Optional[nn.Module]) -> Tuple[torch.Tensor, ...]:
    """Projections ``first`` to ``first + parts - 1`` of the packed
    ``weight`` ``(3C, C)`` and ``bias`` applied to ``norm(x)`` (``x``
    without ``norm``), ``x`` ``(B, L, C)``, by one linear layer (rows
    sliced, so no copy of the weight), each ``(B, h, L, d)``: views of one
    storage."""
    rows = slice(first * x.shape[-1], (first + parts) * x.shape[-1])
    packed = linear_after(norm, x, weight[rows],
                          None if bias is None else bias[rows])
    packed = packed.unflatten(-1, (parts, num_heads, -1))
    return tuple(packed.permute(2, 0, 3, 1, 4))


def sdpa_multihead_attention(query: torch.Tensor,
                             key: torch.Tensor,
                             value: torch.Tensor,
                             in_proj_weight: torch.Tensor,
                             in_proj_bias: Optional[torch.Tensor],
                             num_heads: int,
                             dropout_p: float = 0.,
                             norm: Optional[nn.Module] = None) -> torch.Tensor:
    """Multi-head attention of ``nn.MultiheadAttention`` (batch first: query
    ``(B, N, C)``, key and value ``(B, M, C)``; ``in_proj_weight`` ``(3C,
    C)``, rows ``[W_q; W_k; W_v]``) through
    ``scaled_dot_product_attention``: its fused kernels keep the queries,
    keys, values, output and one log-sum-exp per row for backward, never
    the ``N x M`` attention. As torch packs them, self-attention
    (``query is key is value``) is one projection, keys and values of one
    tensor (``key is value``, e.g. PVT's spatially reduced tokens) one
    more. ``norm`` (a pre-norm, e.g. a LayerNorm) is applied to the inputs
    before their projections and recomputed in backward rather than kept
    (:func:`~mmhvit.models.layers.recompute.linear_after`). Returns the
    heads concatenated, ``(B, N, C)``, before the output projection."""
    args = (in_proj_weight, in_proj_bias)
    if key is query and value is query:
        heads = _projected_heads(query, *args, 0, 3, num_heads, norm)
    elif key is value:
        heads = (_projected_heads(query, *args, 0, 1, num_heads, norm) +
                 _projected_heads(key, *args, 1, 2, num_heads, norm))
    else:
        heads = sum((_projected_heads(x, *args, i, 1, num_heads, norm)
                     for i, x in enumerate((query, key, value))), ())
    out = F.scaled_dot_product_attention(*heads, dropout_p=dropout_p)
    return heads_to_tokens(out)


class SDPAMultiheadAttention(MultiheadAttention):
    """mmcv's ``MultiheadAttention`` (same modules and parameters), batch
    first and without masks or position encodings, as mmseg's ViT and
    mmdet's PVT call it, through :func:`sdpa_multihead_attention`. Built
    by mmcv and then swapped in (:func:`swap_classes`), it adds no
    state."""

    def forward(self, query, key=None, value=None, identity=None,
                norm=None):
        """``identity + attention`` as mmcv's: ``key`` is ``query``,
        ``value`` is ``key`` and ``identity`` is ``query`` unless given.
        With ``norm``, the attention of ``norm(query)`` etc. (pre-norm, as
        ``self(norm(x), identity=x)``), keeping ``x`` for backward rather
        than ``norm(x)``."""
        key = query if key is None else key
        value = key if value is None else value
        identity = query if identity is None else identity
        attn = self.attn
        out = sdpa_multihead_attention(
            query, key, value, attn.in_proj_weight, attn.in_proj_bias,
            attn.num_heads, attn.dropout if self.training else 0., norm)
        return identity + self.dropout_layer(self.proj_drop(
            attn.out_proj(out)))


def swap_classes(model: nn.Module, classes: Dict[type, type]) -> None:
    """Give every submodule of ``model`` whose class is exactly a key of
    ``classes`` the class it maps to: a subclass that adds no state, so
    parameters, state-dict keys and initialisation stay the upstream
    module's."""
    for module in model.modules():
        new = classes.get(type(module))
        if new is not None:
            module.__class__ = new
