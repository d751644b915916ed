"""HAFA: hierarchy aware feature aggregation on PVT, PVTv2 and Swin
Transformer.

Yongjie Chen, Hongmin Liu, Haoran Yin, Bin Fan, "Building Vision
Transformers with Hierarchy Aware Feature Aggregation". No
official code is public.

The downsampling step in front of stages 2-4 is chosen per stage
(``aggregations``, HAFA Tab. 4): ``'laa'`` (learned-offset sampling, Sec.
3.2), ``'sia'`` (clustering, Sec. 3.3) or ``'conv'`` (the network's own
patch embedding or merging). The default is LAA, LAA, SIA (Fig. 2). The
networks are assembled from mmdet's layers (patch embeddings, PVT encoder
layers, Swin blocks) in mmdet's module layout, so plain PVT / Swin weights
load where they fit; the blocks of a clustered stage are subclasses of
those layers. Readings where the paper is silent:

- LAA is a deformable convolution whose offsets start at zero, with a 3x3
  kernel by default (``laa_kernel``; 3x3 fits the paper's parameter counts
  better than the 2x2 of PVT v1's patch embedding), followed by the
  stage's LayerNorm.
- SIA is TCFormer's clustering token merging (3x3 stride-2 conv + linear
  skip + LayerNorm, DPC-KNN, importance-weighted merge) with as many
  clusters as the downsampled map has pixels (49 at 224x224) unless
  ``num_clusters`` is set. Only the queries are clustered
  (``sia_clustering='q'``): every block of the stage attends from the
  merged tokens to the tokens of the downsampled map (un-clustered, as the
  plain network's stage would have them, hence unchanged GFLOPs), whose
  keys and values get CvT's convolutional projection (3x3 depth-wise conv
  + BN) as implicit positional encoding; the stage has no absolute position
  embedding. ``sia_clustering='qkv'`` (Tab. 5) attends among the merged
  tokens.
- A clustered stage's map (for FPN and the next stage) is rebuilt through
  the dictionary: every pixel of the downsampled map takes the mean of the
  merged tokens of the cells it covers.
- Depth-wise convolutions of PVTv2's FFN run on that map and are read back
  at the tokens.
- In Swin, LAA and SIA replace the patch merging at the end of stages 1-3.
  A clustered stage's blocks attend globally (their window partition and
  relative position bias have no meaning for clusters, and at 224x224 the
  last stage is a single window anyway), with the blocks' own projections.
"""
import math
import re
import warnings
from typing import List, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import MultiheadAttention
from mmdet.models.backbones.pvt import (AbsolutePositionEmbedding,
                                        PVTEncoderLayer)
from mmdet.models.backbones.swin import SwinBlock
from mmdet.models.layers import PatchEmbed, PatchMerging, nchw_to_nlc
from mmengine.model import BaseModule, ModuleDict, ModuleList
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch import nn

from mmhvit.checks.model import check_per_stage, resolve_arch
from mmhvit.registry import MODELS
from ..layers import (TokenClusterer, TokenDict, heads_to_tokens,
                      importance_weight, map2token, merge_tokens,
                      one_image_at_a_time_in_eval, token2map, tokens_to_heads)
from .base import PyramidBackbone, drop_path_rates, freeze, init_pvt_weights

AGGREGATIONS = ('laa', 'sia', 'conv')


class TokenState(NamedTuple):
    """Tokens of a stage and where they sit.

    Attributes:
        x (Tensor): ``(B, N, C)`` tokens.
        tokens (TokenDict): Their dictionary (the identity for a grid).
        map_size (tuple): ``(H, W)`` of the stage's feature map.
    """
    x: torch.Tensor
    tokens: TokenDict
    map_size: Tuple[int, int]

    @classmethod
    def from_grid(cls, x: torch.Tensor, hw: Tuple[int, int]):
        """Tokens ``(B, H*W, C)`` of an ``H x W`` map in raster order."""
        return cls(x, TokenDict.grid(x.shape[0], *hw, x.device), tuple(hw))

    def to_map(self) -> torch.Tensor:
        """``(B, C, H, W)``; clustered tokens fill the cells they cover."""
        return token2map(self.x, self.tokens, self.map_size)

    def replace(self, x: torch.Tensor) -> 'TokenState':
        # (not ``self._replace``: torch.compile's Dynamo fails on it here)
        return TokenState(x, self.tokens, self.map_size)


def deform_conv2d(x, offset, weight, bias, stride, padding):
    """A deformable convolution (DCN v1, one offset group, no dilation) from
    ``grid_sample`` and a matmul.

    The same numbers as ``torchvision.ops.deform_conv2d`` (tested), but 2-20x
    faster on the CPU, differentiable through the same bilinear weights, and
    made of ops ONNX has before opset 19 (which adds ``DeformConv``).

    Args:
        x (Tensor): ``(B, C, H, W)``.
        offset (Tensor): ``(B, 2*k*k, H', W')``, ``(dy, dx)`` per kernel
            position in raster order, as torchvision lays them out.
        weight (Tensor): ``(C', C, k, k)``; bias ``(C',)``.
    """
    batch, channels, height, width = x.shape
    k = weight.shape[-1]
    out_h, out_w = offset.shape[-2:]
    taps = torch.arange(k, device=x.device, dtype=x.dtype)
    rows = torch.arange(out_h, device=x.device, dtype=x.dtype) * stride
    cols = torch.arange(out_w, device=x.device, dtype=x.dtype) * stride
    offset = offset.view(batch, k, k, 2, out_h, out_w)
    # sampling positions (B, k, k, H', W') in pixels
    y = ((rows - padding)[:, None] + taps[:, None, None, None] +
         offset[:, :, :, 0])
    x_pos = (cols - padding) + taps[None, :, None, None] + offset[:, :, :, 1]
    # pixel p at (2p + 1) / size - 1 (align_corners=False, which, unlike
    # True, also addresses a map of one pixel)
    grid = torch.stack(((2 * x_pos + 1) / width - 1,
                        (2 * y + 1) / height - 1),
                       -1).view(batch, k * k * out_h, out_w, 2)
    sampled = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros',
                            align_corners=False)  # (B, C, k*k*H', W')
    sampled = sampled.view(batch, channels * k * k, out_h * out_w)
    out = weight.flatten(1) @ sampled  # (B, C', H'*W')
    return (out + bias[:, None]).view(batch, -1, out_h, out_w)


class LocalAdaptiveAggregation(BaseModule):
    """LAA (HAFA Sec. 3.2): a strided patch merging whose ``n x n`` sampling
    points move by learned offsets, ``P_E = P_I + O_f`` (Eq. 1), sampled
    bilinearly and aggregated: a deformable convolution (DCN v1), as LIT's
    deformable token merging. The offsets are predicted from the features
    and start at zero, so an untrained LAA is the plain strided patch
    embedding of the same kernel.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): ``n``; 3 (overlapping, padding 1) matches the
            paper's parameter counts better than 2 (padding 0).
        stride (int): Downsampling factor.
        norm_cfg (dict): Norm on the output tokens.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=2,
                 norm_cfg=dict(type='LN'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.stride, self.padding = stride, (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              self.padding)
        self.offset = nn.Conv2d(in_channels, 2 * kernel_size**2, kernel_size,
                                stride, self.padding)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]
        self.zero_offsets()

    def zero_offsets(self):
        """Start from the regular sampling grid (offsets 0)."""
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x):
        """(B, C, H, W) -> tokens (B, H'*W', C') and (H', W')."""
        offset = self.offset(x)
        # sampling positions and interpolation in float32 under autocast
        with torch.autocast(x.device.type, enabled=False):
            out = deform_conv2d(x.float(), offset.float(), self.conv.weight,
                                self.conv.bias, self.stride,
                                self.padding)  # (B, C', H', W')
        hw = tuple(out.shape[-2:])
        return self.norm(out.flatten(2).transpose(1, 2)), hw


class SemanticInformationAggregation(BaseModule):
    """SIA (HAFA Sec. 3.3): cluster the tokens with DPC-KNN and merge every
    cluster into one token, weighted by a learned importance (Eq. 5).

    As TCFormer's clustering token merging (the paper's [52]): a 3x3
    stride-2 convolution on the feature map, read back at the tokens and
    added to a linear skip of them, then LayerNorm; importance
    ``p = exp(Linear(x))``. The merged tokens become the next stage's
    queries. Only the queries are clustered (Sec. 3.3): the keys and values
    come from the downsampled map itself, un-clustered, in its spatial
    layout, so the stage costs what the plain network's stage costs (Tab.
    1: GFLOPs unchanged). The dictionary maps the merged tokens back to a map
    of the downsampled size, e.g. the 1/32 map for FPN.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        clusterer (TokenClusterer): DPC-KNN (default) or K-means.
        num_clusters (int, optional): Fixed number of clusters; by default
            the number of pixels of the downsampled map (49 at 224x224,
            "the conventional 1/4 down-sampling").
        norm_cfg (dict): Norm of the tokens.
    """

    def __init__(self, in_channels, out_channels, clusterer=None,
                 num_clusters: Optional[int] = None,
                 norm_cfg=dict(type='LN'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.clusterer = clusterer or TokenClusterer()
        self.num_clusters = num_clusters
        self.conv = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.skip = nn.Linear(in_channels, out_channels, bias=False)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]
        self.score = nn.Linear(out_channels, 1)

    def forward(self, state: TokenState):
        """Returns the ``M`` merged tokens (queries, on the downsampled map)
        and the tokens of the downsampled map (keys and values)."""
        down = self.conv(state.to_map())  # (B, C', H', W')
        size = tuple(down.shape[-2:])
        x = self.norm(map2token(down, state.tokens) + self.skip(state.x))
        num = self.num_clusters or size[0] * size[1]
        if num > x.shape[1]:
            warnings.warn(f'num_clusters={num} exceeds the {x.shape[1]} '
                          'tokens of this input; merging into '
                          f'{x.shape[1]} clusters instead.')
            num = x.shape[1]
        idx, = self.clusterer.cluster(x.detach(), [num])
        merged, _ = merge_tokens(x, idx, num, importance_weight(self.score(x)))
        queries = TokenState(merged, state.tokens.merge(idx, num), size)
        grid = self.norm(down.flatten(2).transpose(1, 2))  # (B, H'*W', C')
        return queries, TokenState.from_grid(grid, size)


class ConvProjection(BaseModule):
    """CvT's convolutional projection, the implicit positional encoding of
    SIA's keys and values: a 3x3 depth-wise convolution and BatchNorm on the
    tokens' feature map, read back at the tokens."""

    def __init__(self, channels, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels,
                              bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, state: TokenState) -> torch.Tensor:
        """Tokens of ``state`` -> position-encoded tokens ``(B, N, C)``."""
        return map2token(self.norm(self.conv(state.to_map())), state.tokens)


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
        # its parent, mmcv's multi-head attention, takes any queries, keys
        # and values (batch first) and adds the residual
        x = MultiheadAttention.forward(self.attn, query, keys, values,
                                       identity=x)
        return queries.replace(self._ffn(self.norm2(x), queries, identity=x))

    def _reduce(self, x, state: TokenState):
        """PVT's spatial reduction of keys or values ``x`` laid out as
        ``state``: (B, N, C) -> (B, N', C)."""
        if self.attn.sr_ratio == 1:
            return x
        reduced = self.attn.sr(state.replace(x).to_map())  # (B, C, h, w)
        return self.attn.norm(nchw_to_nlc(reduced))

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


class MapPatchMerging(PatchMerging):
    """mmdet's patch merging called on a map ``(B, C, H, W)``, as the other
    aggregations are."""

    def forward(self, x):
        """(B, C, H, W) -> tokens (B, H'*W', C') and (H', W')."""
        return super().forward(nchw_to_nlc(x), x.shape[-2:])


class HAFABackbone(PyramidBackbone):
    """Base of the HAFA backbones: a plain network's stages with an
    aggregation (LAA, SIA or the network's own) in front of stages 2-4.

    Subclasses build their modules in mmdet's layout with
    :meth:`build_aggregation` and :meth:`build_blocks`, then call
    :meth:`_freeze_stages`, and implement :meth:`stage_parts`,
    :meth:`frozen_modules` and :meth:`init_plain_weights`. Stage ``i``
    runs its aggregation (on the previous stage's tokens or map, or on the
    image), its blocks and its norm.

    Args:
        aggregations (Sequence[str]): In front of stages 2, 3 and 4:
            ``'laa'``, ``'sia'`` or ``'conv'``.
        laa_kernel (int): LAA kernel size (3 or 2).
        clustering (dict): :class:`TokenClusterer` arguments (``method``
            ``'dpc_knn'`` or ``'kmeans'``, ``k``, ``num_iters``).
        num_clusters (int, optional): Fixed SIA cluster number.
        sia_clustering (str): ``'q'`` or ``'qkv'`` (Tab. 5).
        with_cp (bool): Gradient checkpointing of every block.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``init_cfg`` of :class:`PyramidBackbone`.
    """
    num_stages = 4
    # whether a stage's norm feeds the next stage (PVT) or only the output
    # (Swin)
    norm_feeds_forward = True

    def __init__(self,
                 aggregations=('laa', 'laa', 'sia'),
                 laa_kernel=3,
                 clustering=dict(method='dpc_knn', k=5),
                 num_clusters=None,
                 sia_clustering='q',
                 with_cp=False,
                 **kwargs):
        super().__init__(self.num_stages, **kwargs)
        aggregations = check_per_stage('aggregations', aggregations,
                                       self.num_stages - 1)
        for i, kind in enumerate(aggregations, start=2):
            if kind not in AGGREGATIONS:
                raise ValueError(f'Unknown aggregation {kind!r} in front of '
                                 f'stage {i}; choose from {AGGREGATIONS}.')
        if sia_clustering not in ('q', 'qkv'):
            raise ValueError(f"sia_clustering must be 'q' or 'qkv', got "
                             f'{sia_clustering!r}.')
        # stage 1 starts with the network's own patch embedding
        self.aggregations = ('conv', *aggregations)
        self.laa_kernel, self.clustering = laa_kernel, dict(clustering)
        self.num_clusters, self.sia_clustering = num_clusters, sia_clustering
        self.with_cp = with_cp
        self.kv_projections = ModuleDict()

    def build_aggregation(self, stage, in_channels, out_channels, stride,
                          norm_cfg, plain):
        """The aggregation in front of ``stage``; ``plain()`` builds the
        network's own (``'conv'``)."""
        kind = self.aggregations[stage]
        if kind == 'laa':
            return LocalAdaptiveAggregation(in_channels, out_channels,
                                            self.laa_kernel, stride, norm_cfg)
        if kind == 'sia':
            return SemanticInformationAggregation(
                in_channels, out_channels, TokenClusterer(**self.clustering),
                self.num_clusters, norm_cfg)
        return plain()

    def build_blocks(self, stage, channels, depth, block, plain_cls,
                     clustered_cls):
        """``depth`` blocks ``block(cls, j)`` of ``stage``, of
        ``clustered_cls`` after SIA, else of ``plain_cls``. With Q
        clustering, each clustered block gets the CvT projections of its
        keys and values (``kv_projections``)."""
        if self.aggregations[stage] != 'sia':
            return [block(plain_cls, j) for j in range(depth)]
        if self.sia_clustering == 'q':
            self.kv_projections[str(stage)] = ModuleList(
                ModuleDict(dict(key=ConvProjection(channels),
                                value=ConvProjection(channels)))
                for _ in range(depth))
        return [block(clustered_cls, j) for j in range(depth)]

    def stage_parts(self, stage):
        """``(aggregation, blocks, norm)`` of ``stage``; ``norm`` may be
        None (no output norm)."""
        raise NotImplementedError

    def _run(self, block, x, *args):
        """``block(x, *args)``, checkpointed under ``with_cp``."""
        tokens = x.x if isinstance(x, TokenState) else x
        if self.with_cp and tokens.requires_grad:
            return cp.checkpoint(block, x, *args, use_reentrant=False)
        return block(x, *args)

    @one_image_at_a_time_in_eval
    def forward(self, x):
        """(B, 3, H, W) -> tuple of (B, C_i, H_i, W_i) for out_indices."""
        outs, state = [], None
        for i in range(self.num_stages):
            aggregation, blocks, norm = self.stage_parts(i)
            if self.aggregations[i] == 'sia':
                state, source = aggregation(state)
                projections = self.kv_projections[str(i)] if \
                    str(i) in self.kv_projections else [None] * len(blocks)
                for block, projection in zip(blocks, projections):
                    state = self._run(block, state, source, projection)
            else:
                tokens, hw = aggregation(x if state is None else
                                         state.to_map())  # (B, N, C)
                for block in blocks:
                    tokens = self._run(block, tokens, hw)
                state = TokenState.from_grid(tokens, hw)
            normed = state if norm is None else state.replace(norm(state.x))
            if self.norm_feeds_forward:
                state = normed
            if i in self.out_indices:
                outs.append(normed.to_map())  # (B, C_i, H_i, W_i)
        return tuple(outs)

    def stage_companions(self, stage) -> List[nn.Module]:
        """Modules of ``stage`` outside ``frozen_modules()``: its key/value
        projections."""
        key = str(stage)
        return [self.kv_projections[key]] if key in self.kv_projections \
            else []

    def _freeze_stages(self):
        super()._freeze_stages()
        for stage in range(self.frozen_stages):
            for module in self.stage_companions(stage):
                freeze(module)

    def init_default_weights(self):
        """The plain network's initialisation (:meth:`init_plain_weights`)
        with zero LAA offsets, so that an untrained LAA samples the regular
        grid."""
        self.init_plain_weights()
        for module in self.modules():
            if isinstance(module, LocalAdaptiveAggregation):
                module.zero_offsets()

    def init_plain_weights(self):
        raise NotImplementedError


PVT_DEPTHS = dict(tiny=[2, 2, 2, 2], small=[3, 4, 6, 3],
                  medium=[3, 4, 18, 3], large=[3, 8, 27, 3])


def _pvt_arch(embed_dims, num_layers):
    """A PVT / PVTv2 arch: heads 1, 2, 5, 8 of ``embed_dims`` channels."""
    return dict(embed_dims=embed_dims, num_layers=num_layers,
                num_heads=[1, 2, 5, 8])


@MODELS.register_module()
class PVTHAFA(HAFABackbone):
    """PVT v1 with HAFA (HAFA Tabs. 1-5, supplement Tab. 1), in the module
    layout of mmdet's ``PyramidVisionTransformer`` (``layers.i`` = patch
    embedding or aggregation, encoder layers, norm) plus
    ``kv_projections``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``,
            ``'large'`` (PVT's depths), or a dict with ``embed_dims`` (of
            one head), ``num_layers`` and ``num_heads``.
        in_channels (int): Image channels.
        pretrain_img_size (int): Image size of the position embeddings.
        strides (Sequence[int]): Downsampling of each stage.
        sr_ratios (Sequence[int]): Spatial reduction of the attention.
        mlp_ratios (Sequence[int]): FFN expansion.
        qkv_bias (bool): Biases of the attention projections.
        drop_rate (float): Dropout after attention and in the FFN.
        attn_drop_rate (float): Dropout of the attention weights.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            (mmdet's default 0.1).
        act_cfg (dict): FFN activation.
        norm_cfg (dict): Norm config (mmdet PVT's default).
        **kwargs: The HAFA options and ``out_indices``, ``frozen_stages``,
            ``norm_eval``, ``with_cp``, ``init_cfg`` of
            :class:`HAFABackbone`; ``init_cfg=dict(type='Pretrained',
            checkpoint=..., prefix=...)`` also converts official PVT
            checkpoints.
    """
    arch_zoo = {
        name: _pvt_arch(64, depths)
        for name, depths in PVT_DEPTHS.items()
    }
    default_arch = 'tiny'
    official_format = 'pvt'
    # PVT v1: 2x2 patch embeddings without padding, position embeddings, no
    # norm after a stage, a plain FFN
    patch_sizes = (4, 2, 2, 2)
    paddings = (0, 0, 0, 0)
    use_abs_pos_embed = True
    norm_after_stage = False
    use_conv_ffn = False

    def __init__(self,
                 arch=None,
                 in_channels=3,
                 pretrain_img_size=224,
                 strides=(4, 2, 2, 2),
                 sr_ratios=(8, 4, 2, 1),
                 mlp_ratios=(8, 8, 4, 4),
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 act_cfg=dict(type='GELU'),
                 norm_cfg=dict(type='LN', eps=1e-6),
                 **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        settings = resolve_arch(arch or self.default_arch, self.arch_zoo,
                                name)
        depths = check_per_stage('num_layers', settings['num_layers'], 4)
        heads = check_per_stage('num_heads', settings['num_heads'], 4)
        self.strides = check_per_stage('strides', strides, 4)
        self.embed_dims = [settings['embed_dims'] * h for h in heads]
        rates = drop_path_rates(drop_path_rate, depths)

        self.layers = ModuleList()
        in_dims = [in_channels, *self.embed_dims[:-1]]
        for i, channels in enumerate(self.embed_dims):

            def patch_embed(i=i, channels=channels):
                return PatchEmbed(in_dims[i], channels,
                                  kernel_size=self.patch_sizes[i],
                                  stride=self.strides[i],
                                  padding=self.paddings[i], norm_cfg=norm_cfg)

            def layer(cls, j, i=i, channels=channels):
                return cls(
                    embed_dims=channels, num_heads=heads[i],
                    feedforward_channels=mlp_ratios[i] * channels,
                    drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                    drop_path_rate=rates[i][j], qkv_bias=qkv_bias,
                    act_cfg=act_cfg, norm_cfg=norm_cfg,
                    sr_ratio=sr_ratios[i], use_conv_ffn=self.use_conv_ffn)

            blocks = self.build_blocks(i, channels, depths[i], layer,
                                       PVTEncoderLayer, ClusteredPVTLayer)
            if self.use_abs_pos_embed and self.aggregations[i] != 'sia':
                side = pretrain_img_size // math.prod(self.patch_sizes[:i + 1])
                blocks.insert(0, AbsolutePositionEmbedding(
                    side, channels, drop_rate=drop_rate))
            norm = build_norm_layer(norm_cfg, channels)[1] \
                if self.norm_after_stage else nn.Identity()
            self.layers.append(ModuleList([
                self.build_aggregation(i, in_dims[i], channels,
                                       self.strides[i], norm_cfg,
                                       patch_embed),
                ModuleList(blocks), norm
            ]))
        self._freeze_stages()

    def stage_parts(self, stage):
        return tuple(self.layers[stage])

    def frozen_modules(self):
        return [self.layers[0][0], *self.layers]

    def init_plain_weights(self):
        """mmdet's PVT initialisation: truncated-normal linears, unit
        norms, fan-out normal convolutions, truncated-normal position
        embeddings."""
        init_pvt_weights(self)
        for module in self.modules():
            if isinstance(module, AbsolutePositionEmbedding):
                module.init_weights()

    def adapt_checkpoint(self, state_dict):
        """Plain PVT checkpoints start every stage with its position
        embedding (``layers.i.1.0``); a stage after SIA has none, so its
        encoder layers move up by one."""
        for i, kind in enumerate(self.aggregations):
            prefix = f'layers.{i}.1.'
            if kind != 'sia' or prefix + '0.pos_embed' not in state_dict:
                continue
            pattern = re.compile(re.escape(prefix) + r'(\d+)\.(.*)')
            adapted = {}
            for key, value in state_dict.items():
                match = pattern.fullmatch(key)
                if match is None:
                    adapted[key] = value
                elif match[1] != '0':
                    adapted[f'{prefix}{int(match[1]) - 1}.{match[2]}'] = value
            state_dict = adapted
        return state_dict


@MODELS.register_module()
class PVTv2HAFA(PVTHAFA):
    """PVTv2 with HAFA (HAFA Tabs. 4 and 6), in the layout of mmdet's
    ``PyramidVisionTransformerV2``. Arguments as :class:`PVTHAFA`; ``arch``
    is ``'b0'`` ... ``'b4'``. A zero-offset 3x3 LAA is exactly PVTv2's own
    overlapping patch embedding."""
    # B1-B4 have the depths of PVT's Tiny-Large
    arch_zoo = {
        'b0': _pvt_arch(32, PVT_DEPTHS['tiny']),
        **{f'b{i}': _pvt_arch(64, depths)
           for i, depths in enumerate(PVT_DEPTHS.values(), start=1)},
    }
    default_arch = 'b1'
    patch_sizes = (7, 3, 3, 3)
    paddings = (3, 1, 1, 1)
    use_abs_pos_embed = False
    norm_after_stage = True
    use_conv_ffn = True


class SwinStage(BaseModule):
    """Swin blocks and the aggregation after them, in the layout of mmdet's
    ``SwinBlockSequence`` (``blocks``, ``downsample``)."""

    def __init__(self, blocks, downsample=None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.blocks = ModuleList(blocks)
        self.downsample = downsample


@MODELS.register_module()
class SwinHAFA(HAFABackbone):
    """Swin Transformer with HAFA (HAFA Tab. 6), in the module layout of
    mmdet's ``SwinTransformer`` (``patch_embed``, ``stages.i.blocks``,
    ``stages.i.downsample``, ``norm{i}`` for the output stages) plus
    ``kv_projections``: LAA / SIA / patch merging (``'conv'``) at the end
    of stages 1-3.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'`` or ``'base'``, or a dict
            with ``embed_dims`` (of stage 1), ``depths`` and ``num_heads``.
        in_channels (int): Image channels.
        patch_size (int): Side of the first patch embedding.
        window_size (int): Side of the attention windows.
        mlp_ratio (int): FFN expansion.
        strides (Sequence[int]): Downsampling of each stage.
        qkv_bias (bool): Biases of the qkv projections.
        drop_rate, attn_drop_rate, drop_path_rate, act_cfg, norm_cfg: As
            mmdet's ``SwinTransformer``.
        **kwargs: As :class:`PVTHAFA`; official Swin checkpoints are
            converted while loading.
    """
    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2),
                     num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2),
                      num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2),
                     num_heads=(4, 8, 16, 32)),
    }
    official_format = 'swin'
    norm_feeds_forward = False

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 patch_size=4,
                 window_size=7,
                 mlp_ratio=4,
                 strides=(4, 2, 2, 2),
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 act_cfg=dict(type='GELU'),
                 norm_cfg=dict(type='LN'),
                 **kwargs):
        super().__init__(**kwargs)
        settings = resolve_arch(arch, self.arch_zoo, 'SwinHAFA')
        depths = check_per_stage('depths', settings['depths'], 4)
        heads = check_per_stage('num_heads', settings['num_heads'], 4)
        strides = check_per_stage('strides', strides, 4)
        self.embed_dims = [settings['embed_dims'] * 2**i for i in range(4)]
        rates = drop_path_rates(drop_path_rate, depths)

        self.patch_embed = PatchEmbed(
            in_channels, self.embed_dims[0], kernel_size=patch_size,
            stride=strides[0], norm_cfg=norm_cfg)
        self.drop_after_pos = nn.Dropout(drop_rate)
        self.stages = ModuleList()
        for i, channels in enumerate(self.embed_dims):

            def block(cls, j, i=i, channels=channels):
                return cls(
                    embed_dims=channels, num_heads=heads[i],
                    feedforward_channels=mlp_ratio * channels,
                    window_size=window_size, shift=j % 2 == 1,
                    qkv_bias=qkv_bias, drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    drop_path_rate=rates[i][j], act_cfg=act_cfg,
                    norm_cfg=norm_cfg)

            downsample = None
            if i + 1 < self.num_stages:
                downsample = self.build_aggregation(
                    i + 1, channels, self.embed_dims[i + 1], strides[i + 1],
                    norm_cfg, lambda i=i, channels=channels: MapPatchMerging(
                        channels, self.embed_dims[i + 1],
                        stride=strides[i + 1], norm_cfg=norm_cfg))
            self.stages.append(SwinStage(
                self.build_blocks(i, channels, depths[i], block, SwinBlock,
                                  ClusteredSwinBlock), downsample))
        for i in self.out_indices:
            self.add_module(f'norm{i}',
                            build_norm_layer(norm_cfg, self.embed_dims[i])[1])
        self._freeze_stages()

    def _embed(self, image):
        """The patch embedding, stage 1's aggregation."""
        tokens, hw = self.patch_embed(image)
        return self.drop_after_pos(tokens), hw

    def stage_parts(self, stage):
        aggregation = self._embed if stage == 0 else \
            self.stages[stage - 1].downsample
        return (aggregation, self.stages[stage].blocks,
                getattr(self, f'norm{stage}', None))

    def frozen_modules(self):
        return [self.patch_embed, *self.stages]

    def stage_companions(self, stage):
        """Its key/value projections and output norm."""
        norm = getattr(self, f'norm{stage}', None)
        return super().stage_companions(stage) + (
            [] if norm is None else [norm])

    def init_plain_weights(self):
        """mmdet's Swin initialisation: truncated-normal linears, unit
        LayerNorms; convolutions keep PyTorch's initialisation."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_init(module, std=.02, bias=0.)
            elif isinstance(module, nn.LayerNorm):
                constant_init(module, 1.0)
