"""HLG: the Hierarchical Local-Global Transformer.

Li Zhang, Jiachen Lu, Sixiao Zheng, Xinxuan Zhao, Xiatian Zhu, Yanwei Fu,
Tao Xiang, Jianfeng Feng, Philip H.S. Torr, "Vision Transformers: From
Semantic Segmentation to Dense Prediction", IJCV 2024 (the journal version
of SETR, CVPR 2021), Sec. 3.3 and Tab. 1. Official code:
github.com/fudan-zvg/SETR (``mmseg/models/backbones/hlg.py``), which does not
run as released; it fixes the module layout and the parts the paper leaves
out.

Each layer runs an MLP first (its depth-wise conv strided in the first layer
of a stage, which is how the network downsamples), then local attention in
``R x R`` windows, plain and dilated in alternate layers, then global
attention of every token to one average-pooled embedding per window. Local
and global attention share their projections and the global queries reuse
the local ones (Eqs. 8-9). The last stage runs plain global attention.

Choices, paper vs official code (details in ``configs/hlg/README.md``):

* Paper: local keys are ``Z W_K`` (Eq. 4), the global query adds
  ``DWConv(V_W)`` (Eq. 9). The code uses the queries as keys and
  ``DWConv(LN(A))`` of the local output; we follow the paper (same
  parameters, without the code's extra LayerNorm).
* Code: a spatial-smoothing bottleneck after the MLP, LayerNorms around the
  attention, an output projection, no squeeze-excitation in the MLP and an
  MLP hidden width of ``4 x`` the *input* width: the paper's parameter counts
  (Tab. 7) are reproduced only this way.
* Dilated windows gather ``R x R`` tokens with a stride of ``H_p / R`` (the
  code's choice, ``H_p`` the map padded to a multiple of ``R``): the paper's
  dilations 8, 4, 2, 1 at 224 x 224, any size without extra padding.
* Maps of any size: windows are padded, padded keys masked (the code builds
  that mask and never applies it) and windows are pooled over real tokens.
* Ablations (Tabs. 12-13): ``window_embedding='dwconv'``, plain windows
  only (``dilated=False``), dilated windows of another side
  (``dilated_window_size``).
* The global bias ``B_G`` is a function of the offset between each token and
  the centroid of each window's real tokens (the code's bias ignores where
  windows are).
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList
from mmpretrain.models.utils import LayerNorm2d
from torch import nn

from mmhvit.registry import MODELS
from ..layers import WindowGrid, heads_to_tokens, tokens_to_heads
from ..layers.layout_cache import layout_cache
from .base import (PyramidBackbone, drop_path_rates, init_trunc_normal_weights,
                   stage_layers)


def _mlp_stage(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.LayerNorm(in_features), nn.ReLU(inplace=True),
        nn.Linear(in_features, out_features))


@layout_cache(maxsize=256)
def _offsets(queries: Tuple[float], keys: Tuple[float], device: str):
    """The distinct offsets ``q - k`` along one axis ``(U,)`` and, for each
    query-key pair, the index of its offset ``(len(queries), len(keys))``.

    Computed once per layout from Python coordinates, so the tensors are
    constants for tracing and ONNX export."""
    diffs = [[q - k for k in keys] for q in queries]
    values = sorted({d for row in diffs for d in row})
    position = {value: i for i, value in enumerate(values)}
    index = [[position[d] for d in row] for row in diffs]
    return (torch.tensor(values, device=device),
            torch.tensor(index, device=device))


class DynamicPositionBias(BaseModule):
    """Attention bias as a function of the query-key offset.

    CrossFormer's dynamic position bias (DPB), as HLG uses it for its local
    window bias ``B_W`` and its global bias ``B_G`` (HLG paper Eqs. 5, 7):
    ``Linear(2, D) -> [LN, ReLU, Linear] x 2 -> [LN, ReLU, Linear(D, heads)]``
    applied to an offset ``(dy, dx)``. The MLP is evaluated once per distinct
    offset and the result gathered per query-key pair, so any grid and any
    key layout (window centres, pooled maps) works and nothing grows with the
    square of the pixel count except the bias itself.

    Args:
        channels (int): Channels of the attention; the MLP is
            ``channels // 16`` wide (HLG's ``DynamicPosBias(dim // 4)``).
        num_heads (int): One bias per head.
    """

    def __init__(self, channels: int, num_heads: int, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        hidden = max(channels // 16, 1)
        self.pos_proj = nn.Linear(2, hidden)
        self.pos1 = _mlp_stage(hidden, hidden)
        self.pos2 = _mlp_stage(hidden, hidden)
        self.pos3 = _mlp_stage(hidden, num_heads)

    def forward(self, q_rows: Sequence[float], q_cols: Sequence[float],
                k_rows: Sequence[float], k_cols: Sequence[float]
                ) -> torch.Tensor:
        """Bias between a grid of queries and a grid of keys.

        Args:
            q_rows, q_cols (Sequence[float]): Coordinates of the query grid's
                rows ``(Hq,)`` and columns ``(Wq,)``, in tokens.
            k_rows, k_cols (Sequence[float]): Same for the keys.

        Returns:
            Tensor: ``(1, heads, Hq*Wq, Hk*Wk)``, queries and keys in raster
            order; 4-D, as SDPA's CPU flash kernel takes only 4-D masks (a
            3-D one sends it to the math path, 1.5-3x slower).
        """
        device = str(self.pos_proj.weight.device)
        dy, y_index = _offsets(tuple(q_rows), tuple(k_rows), device)
        dx, x_index = _offsets(tuple(q_cols), tuple(k_cols), device)
        offsets = torch.stack(torch.meshgrid(dy, dx, indexing='ij'), -1)
        table = self.pos3(self.pos2(self.pos1(self.pos_proj(
            offsets.to(self.pos_proj.weight.dtype)))))  # (Uy, Ux, heads)
        hq, hk, wq, wk = y_index.shape + x_index.shape
        # one gather straight into (heads, Hq, Wq, Hk, Wk): no copy after it
        bias = table.permute(2, 0, 1)[:, y_index[:, None, :, None],
                                      x_index[None, :, None, :]]
        return bias.reshape(1, -1, hq * wq, hk * wk)


def _arange(num):
    return tuple(float(i) for i in range(num))


class LocalGlobalAttention(BaseModule):
    """Local attention in windows, then global attention to the windows'
    embeddings, sharing projections and queries (HLG Sec. 3.3, Eqs. 4-9).

    Args:
        channels (int): Channels ``C``.
        num_heads (int): Heads of both attentions.
        window_size (int): Window side ``R``.
        dilated (bool): Dilated instead of plain local windows.
        norm_cfg (dict): Norm of the input tokens and window embeddings.
        window_embedding (str): A window's embedding: ``'avgpool'``, the mean
            of its tokens (paper), or ``'dwconv'``, a depth-wise ``R x R``
            conv over it (Tab. 12's alternative).
    """

    def __init__(self, channels, num_heads, window_size, dilated, norm_cfg,
                 window_embedding='avgpool', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if window_embedding not in ('avgpool', 'dwconv'):
            raise ValueError(f"window_embedding must be 'avgpool' or "
                             f"'dwconv', got {window_embedding!r}.")
        self.num_heads = num_heads
        self.window_size = window_size
        self.dilated = dilated
        self.window_conv = nn.Conv2d(
            channels, channels, window_size,
            groups=channels) if window_embedding == 'dwconv' else None
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.q = nn.Linear(channels, channels)
        self.k = nn.Linear(channels, channels)
        self.v = nn.Linear(channels, channels)
        self.local_bias = DynamicPositionBias(channels, num_heads)
        self.window_norm = build_norm_layer(norm_cfg, channels)[1]
        # Eq. 9: Q_L = Q_W + DWConv(V_W)
        self.query_conv = nn.Conv2d(channels, channels, 3, padding=1,
                                    groups=channels)
        self.global_bias = DynamicPositionBias(channels, num_heads)
        self.proj = nn.Linear(channels, channels)

    def local_attention(self, q, k, v, grid: WindowGrid):
        """Eq. 5 without the residual: ``(B, H, W, C)`` each -> same."""
        batch, channels = q.shape[0], q.shape[-1]
        q, k, v = (
            tokens_to_heads(grid.partition(t).flatten(0, 1), self.num_heads)
            for t in (q, k, v))  # (B*nW, h, R*R, d)
        window = _arange(grid.size)
        bias = self.local_bias(window, window, window, window).to(q.dtype)
        if grid.valid is not None:  # mask padded keys, per window
            bias = bias.masked_fill(~grid.valid[:, None, None, :],
                                    float('-inf'))  # (nW, h, R*R, R*R)
            bias = bias.repeat(q.shape[0] // grid.valid.shape[0], 1, 1, 1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        # (B*nW, h, R*R, d) -> (B, nW, R*R, C)
        out = heads_to_tokens(out).view(batch, -1, grid.size**2, channels)
        return grid.reverse(out)

    def embed_windows(self, x, grid: WindowGrid):
        """One token per window, ``(B, H, W, C)`` -> ``(B, M, C)``: the mean
        of its real tokens, or its depth-wise convolution (padded tokens are
        zeros)."""
        if self.window_conv is None:
            return grid.mean(x)
        windows = grid.partition(x)  # (B, M, R*R, C)
        batch, num, _, channels = windows.shape
        windows = windows.transpose(2, 3).reshape(
            batch * num, channels, grid.size, grid.size)
        return self.window_conv(windows).view(batch, num, channels)

    def forward(self, x):
        """``(B, H, W, C)`` -> ``Z_L`` and the global attention's output."""
        batch, height, width, channels = x.shape
        grid = WindowGrid.build(height, width, self.window_size, self.dilated,
                                x.device)
        normed = self.norm(x)
        q, k, v = self.q(normed), self.k(normed), self.v(normed)
        z_local = x + self.local_attention(q, k, v, grid)  # Eq. 5
        windows = self.window_norm(self.embed_windows(z_local, grid))
        q_global = q + self.query_conv(v.permute(0, 3, 1, 2)).permute(
            0, 2, 3, 1)  # Eq. 9
        bias = self.global_bias(_arange(height), _arange(width),
                                *grid.centres()).to(q.dtype)  # (1, h, H*W, M)
        out = F.scaled_dot_product_attention(
            tokens_to_heads(q_global.reshape(batch, -1, channels),
                            self.num_heads),
            tokens_to_heads(self.k(windows), self.num_heads),
            tokens_to_heads(self.v(windows), self.num_heads),
            attn_mask=bias)  # (B, h, H*W, d)
        out = self.proj(heads_to_tokens(out))
        return z_local, out.view(batch, height, width, channels)


class GlobalSelfAttention(BaseModule):
    """Multi-head self-attention over the whole map with a dynamic relative
    position bias, normalised after the projection: HLG's last stage, where
    a ``7 x 7`` map is a single window (official layer with interval 1).

    Args:
        channels (int): Channels ``C``.
        num_heads (int): Number of heads.
        norm_cfg (dict): Norm of the output.
    """

    def __init__(self, channels, num_heads, norm_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.num_heads = num_heads
        self.q = nn.Linear(channels, channels)
        self.k = nn.Linear(channels, channels)
        self.v = nn.Linear(channels, channels)
        self.position_bias = DynamicPositionBias(channels, num_heads)
        self.proj = nn.Linear(channels, channels)
        self.out_norm = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x):
        """``(B, H, W, C)`` -> the input and the attention's output."""
        batch, height, width, channels = x.shape
        tokens = x.reshape(batch, -1, channels)
        rows, cols = _arange(height), _arange(width)
        out = F.scaled_dot_product_attention(
            *(tokens_to_heads(proj(tokens), self.num_heads)
              for proj in (self.q, self.k, self.v)),
            attn_mask=self.position_bias(rows, cols, rows, cols).to(x.dtype))
        out = self.out_norm(self.proj(heads_to_tokens(out)))
        return x, out.view(batch, height, width, channels)


class DepthwiseMLP(BaseModule):
    """HLG's DWMLP: ``1x1 conv -> BN -> GELU -> 3x3 depth-wise conv (stride
    1 or 2) -> BN -> GELU -> 1x1 conv``, biases everywhere (official code;
    the paper's squeeze-excitation is absent there and from its parameter
    counts)."""

    def __init__(self, in_channels, out_channels, hidden_channels, stride,
                 conv_norm_cfg, act_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fc1 = ConvModule(in_channels, hidden_channels, 1,
                              norm_cfg=conv_norm_cfg, act_cfg=act_cfg)
        self.fc2 = ConvModule(hidden_channels, hidden_channels, 3, stride, 1,
                              groups=hidden_channels,
                              norm_cfg=conv_norm_cfg, act_cfg=act_cfg)
        self.fc3 = nn.Conv2d(hidden_channels, out_channels, 1)

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, H/stride, W/stride)."""
        return self.fc3(self.fc2(self.fc1(x)))


class SpatialSmoothing(BaseModule):
    """``GELU(x + bottleneck(x))`` with a ``1x1 -> 3x3 -> 1x1`` bottleneck of
    ``C/4`` channels: the official code's convolution before local attention,
    not described in the paper but part of its parameter counts."""

    def __init__(self, channels, conv_norm_cfg, act_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        mid = channels // 4
        self.bottleneck = nn.Sequential(
            ConvModule(channels, mid, 1, norm_cfg=conv_norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(mid, mid, 3, padding=1,
                       norm_cfg=conv_norm_cfg, act_cfg=act_cfg),
            ConvModule(mid, channels, 1, norm_cfg=conv_norm_cfg,
                       act_cfg=None))
        self.act = build_activation_layer(act_cfg)

    def forward(self, x):
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.act(x + self.bottleneck(x))


class HLGLayer(BaseModule):
    """One HLG layer: ``x = shortcut(x) + LN(DWMLP(x))``, then (local layers)
    spatial smoothing and local-global attention, or (last stage) global
    self-attention, each residual with stochastic depth on its update.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels; differs from ``in_channels`` only in
            a downsampling layer.
        num_heads (int): Attention heads.
        window_size (int): Local window side ``R``.
        dilated (bool): Dilated local windows (odd layers of a stage).
        local (bool): Local-global attention; ``False`` for plain global
            self-attention (the last stage).
        downsample (bool): Halve the map: stride-2 depth-wise convs in the MLP
            and in the shortcut (the first layer of each stage).
        mlp_ratio (int): Hidden width of the MLP over ``in_channels``.
        drop_path_rate (float): Stochastic depth of the MLP and attention.
        norm_cfg (dict): Norm of the token space (LayerNorm).
        conv_norm_cfg (dict): Norm of the convolutions (BatchNorm).
        act_cfg (dict): Activation.
        window_embedding (str): ``'avgpool'`` or ``'dwconv'``
            (:class:`LocalGlobalAttention`).
        with_cp (bool): Gradient checkpointing.
    """

    def __init__(self, in_channels, channels, num_heads, window_size=7,
                 dilated=False, local=True, downsample=False, mlp_ratio=4,
                 drop_path_rate=0., norm_cfg=dict(type='LN', eps=1e-6),
                 conv_norm_cfg=dict(type='BN'), act_cfg=dict(type='GELU'),
                 window_embedding='avgpool', with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not downsample and in_channels != channels:
            raise ValueError(f'Only a downsampling HLG layer changes the '
                             f'width, got {in_channels} -> {channels}.')
        if channels % num_heads:
            raise ValueError(f'channels {channels} not divisible by '
                             f'num_heads {num_heads}.')
        self.with_cp = with_cp
        self.shortcut = ConvModule(
            in_channels, channels, 3, 2, 1, groups=in_channels,
            norm_cfg=conv_norm_cfg,
            act_cfg=act_cfg) if downsample else nn.Identity()
        stride = 2 if downsample else 1
        self.mlp = DepthwiseMLP(in_channels, channels, in_channels * mlp_ratio,
                                stride, conv_norm_cfg, act_cfg)
        self.mlp_norm = LayerNorm2d(channels, eps=norm_cfg.get('eps', 1e-5))
        if local:
            self.smooth = SpatialSmoothing(channels, conv_norm_cfg, act_cfg)
            self.attn = LocalGlobalAttention(channels, num_heads, window_size,
                                             dilated, norm_cfg,
                                             window_embedding)
        else:
            self.smooth = nn.Identity()
            self.attn = GlobalSelfAttention(channels, num_heads, norm_cfg)
        self.drop_path = DropPath(drop_path_rate)

    def _forward(self, x):
        x = self.shortcut(x) + self.drop_path(self.mlp_norm(self.mlp(x)))
        x = self.smooth(x)
        base, update = self.attn(x.permute(0, 2, 3, 1))  # (B, H, W, C)
        return (base + self.drop_path(update)).permute(0, 3, 1, 2)

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C, H', W'), halved when downsampling."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class HLGStage(BaseModule):
    """A stage's HLG layers (the first one downsampling), then a LayerNorm
    whose output both leaves the backbone and feeds the next stage (official
    ``norm_out_i`` / ``norm``)."""

    def __init__(self, layers, channels, norm_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.layers = ModuleList(layers)
        self.norm = LayerNorm2d(channels, eps=norm_cfg.get('eps', 1e-5))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


@MODELS.register_module()
class HLG(PyramidBackbone):
    """HLG Transformer backbone (paper Tab. 1).

    A two-conv stem (stride 2) and four stages whose first layers halve the
    map: outputs at strides 4, 8, 16 and 32 with ``embed_dims`` channels,
    each after a LayerNorm.

    Args:
        arch (str | dict): ``'mobile'``, ``'tiny'``, ``'small'``,
            ``'medium'``, ``'large'`` (or ``'t'``, ``'s'``, ``'l'``), or a
            dict with the keys of :attr:`arch_zoo`'s entries. Depths follow
            Tab. 1 except Large's stage 3 (18, not 14: only 18 reproduces
            the paper's 84.2 M and its dense totals). Medium's dense models
            (Tabs. 10-11, SETR-PUP) also fit only 18; their configs pass
            ``depths``.
        depths (Sequence[int], optional): Overrides the arch's depths.
        in_channels (int): Image channels. Defaults to 3.
        window_size (int): Local window side ``R``. Defaults to 7.
        dilated (bool): Alternate plain and dilated local windows (paper);
            ``False``: plain windows only (Tab. 13 "plain+plain").
        dilated_window_size (int, optional): Side of the dilated windows
            (Tab. 13 "plain+dila 5 / 8"; their dilation is the map side over
            it); None: ``window_size`` ("plain+dila 7").
        window_embedding (str): ``'avgpool'`` (paper) or ``'dwconv'``
            (Tab. 12).
        mlp_ratio (int): MLP expansion over a layer's input width (4).
        out_indices (Sequence[int]): Output stages. Defaults to all four.
        drop_path_rate (float): Stochastic depth, rising linearly from 0.
        norm_cfg (dict): Token-space norm, ``LN`` with eps 1e-6 (official).
        conv_norm_cfg (dict): Norm of the convolutions, ``BN``.
        act_cfg (dict): Activation, GELU.
        frozen_stages (int): See :class:`PyramidBackbone`; 0 is the stem.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing of every layer.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')``; official checkpoints are
            converted while loading.

    Example:
        >>> import torch
        >>> from mmhvit.models import HLG
        >>> model = HLG(arch='mobile').eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 100, 150))]
        [(1, 48, 25, 38), (1, 96, 13, 19), (1, 192, 7, 10), (1, 384, 4, 5)]
    """
    # yapf: disable
    arch_zoo = {
        'mobile':                       {'embed_dims': (48, 96, 192, 384),
                                         'num_heads':  (2, 4, 8, 16),
                                         'depths':     (2, 2, 2, 2)},
        **dict.fromkeys(['t', 'tiny'],  {'embed_dims': (64, 128, 256, 512),
                                         'num_heads':  (2, 4, 8, 16),
                                         'depths':     (2, 2, 6, 2)}),
        **dict.fromkeys(['s', 'small'], {'embed_dims': (96, 192, 384, 768),
                                         'num_heads':  (3, 6, 12, 24),
                                         'depths':     (2, 2, 6, 2)}),
        'medium':                       {'embed_dims': (96, 192, 384, 768),
                                         'num_heads':  (3, 6, 12, 24),
                                         'depths':     (2, 2, 14, 2)},
        **dict.fromkeys(['l', 'large'], {'embed_dims': (128, 256, 512, 1024),
                                         'num_heads':  (4, 8, 16, 32),
                                         'depths':     (2, 2, 18, 2)}),
    }  # yapf: enable
    num_stages = 4
    official_format = 'hlg'

    def __init__(self,
                 arch='tiny',
                 depths=None,
                 in_channels=3,
                 window_size=7,
                 dilated=True,
                 dilated_window_size=None,
                 window_embedding='avgpool',
                 mlp_ratio=4,
                 out_indices=(0, 1, 2, 3),
                 drop_path_rate=0.,
                 norm_cfg=dict(type='LN', eps=1e-6),
                 conv_norm_cfg=dict(type='BN'),
                 act_cfg=dict(type='GELU'),
                 frozen_stages=-1,
                 norm_eval=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(self.num_stages, out_indices, frozen_stages,
                         norm_eval, init_cfg)
        arch = self.arch_settings(arch, depths=depths)
        self.embed_dims, self.depths = arch['embed_dims'], arch['depths']
        widths = [self.embed_dims[0]] + self.embed_dims
        if any(b % a for a, b in zip(widths, widths[1:])):
            raise ValueError(
                f'HLG downsamples with depth-wise convs, so each stage width '
                f'must be a multiple of the previous one, got embed_dims '
                f'{self.embed_dims}.')
        if min(self.depths) < 1:
            raise ValueError(f'Every HLG stage needs a layer, got depths '
                             f'{self.depths}.')

        stem_channels = self.embed_dims[0]
        self.stem = nn.Sequential(
            ConvModule(in_channels, stem_channels, 3, 2, 1,
                       norm_cfg=conv_norm_cfg, act_cfg=act_cfg),
            ConvModule(stem_channels, stem_channels, 3, 1, 1,
                       norm_cfg=conv_norm_cfg, act_cfg=act_cfg))
        rates = drop_path_rates(drop_path_rate, self.depths)
        self.stages = ModuleList()
        for i, channels in enumerate(self.embed_dims):
            # plain and dilated windows alternate (odd layers dilated)
            dilated_layer = [dilated and j % 2 == 1
                             for j in range(self.depths[i])]
            layers = [
                HLGLayer(widths[i] if j == 0 else channels, channels,
                         num_heads=arch['num_heads'][i],
                         window_size=(dilated_window_size or window_size)
                         if dilated_layer[j] else window_size,
                         dilated=dilated_layer[j],
                         local=i < self.num_stages - 1, downsample=j == 0,
                         mlp_ratio=mlp_ratio, drop_path_rate=rate,
                         norm_cfg=norm_cfg, conv_norm_cfg=conv_norm_cfg,
                         act_cfg=act_cfg, window_embedding=window_embedding,
                         with_cp=with_cp)
                for j, rate in enumerate(rates[i])
            ]
            self.stages.append(HLGStage(layers, channels, norm_cfg))
        self._freeze_stages()

    def frozen_modules(self):
        return [self.stem, *self.stages]

    def layers_by_depth(self):
        """The stem, then the HLG layers; a stage's norm joins its last
        layer."""
        return [[self.stem]] + [
            layer for stage in self.stages
            for layer in stage_layers(stage.layers, back=[stage.norm])
        ]

    def init_default_weights(self):
        """The official code's (:func:`init_trunc_normal_weights`)."""
        init_trunc_normal_weights(self)

    def forward(self, x):
        """(B, 3, H, W) -> tuple of (B, C_i, H/s_i, W/s_i) for out_indices."""
        return self.forward_stages(self.stem(x))
