"""HAFA's aggregations in front of a stage (Secs. 3.2-3.3): LAA, SIA and
the plain networks' own, on the token state they pass between stages."""
import warnings
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.models.layers import PatchMerging, nchw_to_nlc
from mmengine.model import BaseModule, ModuleDict, ModuleList
from torch import nn

from mmhvit.checks.model import check_per_stage
from ...layers import (TokenClusterer, TokenDict, importance_weight, map2token,
                       merge_tokens, token2map)

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


class MapPatchMerging(PatchMerging):
    """mmdet's patch merging called on a map ``(B, C, H, W)``, as the other
    aggregations are."""

    def forward(self, x):
        """(B, C, H, W) -> tokens (B, H'*W', C') and (H', W')."""
        return super().forward(nchw_to_nlc(x), x.shape[-2:])


class AggregationPlan:
    """The HAFA options of a backbone, checked, and what they put in front
    of each stage (HAFA Tabs. 4-5): the LAA, SIA or the network's own patch
    embedding, whether the stage runs on merged tokens, and the key/value
    projections of a clustered stage's blocks.

    Args:
        aggregations (Sequence[str]): In front of stages 2, 3 and 4:
            ``'laa'``, ``'sia'`` or ``'conv'`` (the network's own patch
            embedding or merging); stage 1 starts with the network's own.
        laa_kernel (int): LAA kernel size (3 or 2).
        clustering (dict): :class:`TokenClusterer` arguments (``method``
            ``'dpc_knn'`` or ``'kmeans'``, ``k``, ``num_iters``).
        num_clusters (int, optional): Fixed SIA cluster number.
        sia_clustering (str): ``'q'`` (only the queries are clustered; the
            keys and values get CvT's projections, Sec. 3.3) or ``'qkv'``
            (Tab. 5).
        num_stages (int): Stages of the backbone.
    """

    def __init__(self, aggregations: Sequence[str], laa_kernel: int,
                 clustering: dict, num_clusters: Optional[int],
                 sia_clustering: str, num_stages: int):
        aggregations = check_per_stage('aggregations', aggregations,
                                       num_stages - 1)
        for i, kind in enumerate(aggregations, start=2):
            if kind not in AGGREGATIONS:
                raise ValueError(f'Unknown aggregation {kind!r} in front of '
                                 f'stage {i}; choose from {AGGREGATIONS}.')
        if sia_clustering not in ('q', 'qkv'):
            raise ValueError(f"sia_clustering must be 'q' or 'qkv', got "
                             f'{sia_clustering!r}.')
        self.kinds = ('conv', *aggregations)
        self.laa_kernel, self.clustering = laa_kernel, dict(clustering)
        self.num_clusters, self.sia_clustering = num_clusters, sia_clustering

    def clustered(self, stage: int) -> bool:
        """Whether ``stage`` runs on SIA's merged tokens."""
        return self.kinds[stage] == 'sia'

    def build(self, stage: int, in_channels: int, out_channels: int,
              stride: int, norm_cfg: dict, plain_cls: Callable[..., nn.Module],
              **plain_kwargs) -> nn.Module:
        """The LAA or SIA in front of ``stage``; for ``'conv'``, the
        network's own patch embedding or merging, ``plain_cls(in_channels,
        out_channels, stride=stride, norm_cfg=norm_cfg, **plain_kwargs)``."""
        kind = self.kinds[stage]
        if kind == 'laa':
            return LocalAdaptiveAggregation(in_channels, out_channels,
                                            self.laa_kernel, stride, norm_cfg)
        if kind == 'sia':
            return SemanticInformationAggregation(
                in_channels, out_channels, TokenClusterer(**self.clustering),
                self.num_clusters, norm_cfg)
        return plain_cls(in_channels, out_channels, stride=stride,
                         norm_cfg=norm_cfg, **plain_kwargs)

    def kv_projections(self, stage: int, channels: int,
                       depth: int) -> Optional[ModuleList]:
        """CvT's key and value projections for each of the ``depth`` blocks
        of ``stage`` where only its queries are clustered; else None."""
        if not self.clustered(stage) or self.sia_clustering != 'q':
            return None
        return ModuleList(
            ModuleDict(dict(key=ConvProjection(channels),
                            value=ConvProjection(channels)))
            for _ in range(depth))
