"""HAT-Net: vision transformers with hierarchical attention.

Yun Liu, Yu-Huan Wu, Guolei Sun, Le Zhang, Ajad Chhatkuli, Luc Van Gool,
"Vision Transformers with Hierarchical Attention", Machine Intelligence
Research 2024 (arXiv:2106.03180). Official code: github.com/yun-liu/HAT-Net.

Where the paper is silent the official implementation decides: every norm is
``GroupNorm(1, C, eps=1e-6)``, the local-attention residual ``X + A1`` is
normalised before the global step, there is no norm after the last stage and
the stem has no norm after its second conv. Unlike the official code, maps of
any size work: local windows are padded and the padded keys masked, and the
global pooling covers the border (``ceil_mode``); on maps divisible by the
grids the two agree exactly.

Ablation options (Sec. 4.4): ``window_only`` stages run window attention
alone (Tab. 5's designs 1-3), ``ffn_dwconv=False`` removes the depth-wise
convolutions (the "pure transformer" variant), ``act_cfg`` GELU instead of
SiLU.
"""
import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import constant_init, trunc_normal_init
from torch import nn

from mmhvit.registry import MODELS
from ..layers import WindowGrid, pad_to_multiple, real_positions
from .base import PyramidBackbone, drop_path_rates, stage_layers

# Attention on NCHW maps through SDPA. Channels are head-major,
# ``(num_heads, head_dim)``. The backbone runs on channels-last maps
# (``(B, H, W, C)`` in memory): there a map splits into heads by a view
# with the head dim at unit stride, as SDPA's CPU kernels need (a strided
# head dim sends them to their math path, 1.6-2.8x slower), and SDPA's
# output ``(B, h, N, d)``, stored as ``(B, N, h, d)``, is a channels-last
# map again without a copy. Maps of any size work: where windows need a
# map divisible by their size, it is zero-padded and the padded keys are
# masked out of the softmax.


def avg_pool_ceil(x: torch.Tensor, size: int) -> torch.Tensor:
    """``F.avg_pool2d(x, size, size, ceil_mode=True)``: border cells average
    the real positions they cover. Written with zero padding and a count of
    real positions, because ONNX's ceil-mode pooling divides the border
    cells by the whole cell size."""
    height, width = x.shape[-2:]
    padded = pad_to_multiple(x, size)
    sums = F.avg_pool2d(padded, size, size)  # sum / size^2
    if padded.shape[-2:] == x.shape[-2:]:
        return sums
    real = real_positions(height, width, *padded.shape[-2:], x.device)
    counts = F.avg_pool2d(real.to(x.dtype)[None, None], size, size)
    return sums / counts


def tokens_to_map(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(B, N, h, d)`` (or ``(B, N, C)``) -> ``(B, C, H, W)``: a view of
    channels-last memory where ``x`` is contiguous."""
    return x.reshape(x.shape[0], height, width, -1).permute(0, 3, 1, 2)


def window_attention(x: torch.Tensor, qkv: nn.Module, num_heads: int,
                     window_size: int) -> torch.Tensor:
    """Multi-head self-attention inside non-overlapping ``G x G`` windows.

    The map is cut into windows before the per-position ``qkv`` layer, so
    the one copy that gathers windows moves ``C`` channels, not ``3C``, and
    queries, keys and values are views of the layer's output.

    Args:
        x (Tensor): ``(B, C, H, W)``, the normalised map.
        qkv (nn.Module): The 1x1 layer ``C -> 3C`` giving queries, keys and
            values stacked on the channel dim in that order, each
            head-major.
        num_heads (int): Number of heads ``h``; ``C`` must divide by it.
        window_size (int): Window side ``G``. Maps not divisible by ``G``
            are padded, padded keys masked and padded queries cropped.

    Returns:
        Tensor: ``(B, C, H, W)``, channels-last in memory.
    """
    batch, channels, height, width = x.shape
    grid = WindowGrid.build(height, width, window_size, False, x.device)
    gh, gw, g = grid.gh, grid.gw, window_size
    # (B, C, Hp, Wp) -> (B, gh, G, gw, G, C) -> (B*gh*gw, G, G, C): windows
    # as maps (B*gh*gw, C, G, G), channels-last
    x = pad_to_multiple(x, g).permute(0, 2, 3, 1).view(
        batch, gh, g, gw, g, channels)
    x = x.transpose(2, 3).reshape(batch * gh * gw, g, g, channels)
    mask = None
    if grid.valid is not None:  # (gh*gw, G*G) -> (B*gh*gw, 1, 1, G*G)
        mask = grid.valid[:, None, None].repeat(batch, 1, 1, 1)
    out = F.scaled_dot_product_attention(
        *map_to_heads(qkv(x.permute(0, 3, 1, 2)), num_heads, 3),
        attn_mask=mask)  # (B*gh*gw, h, G*G, d)
    # -> (B, gh, gw, G, G, C) -> (B, gh, G, gw, G, C) -> (B, C, Hp, Wp)
    out = out.transpose(1, 2).reshape(batch, gh, gw, g, g, channels)
    out = out.transpose(2, 3).reshape(batch, gh * g * gw * g, channels)
    return tokens_to_map(out, gh * g, gw * g)[..., :height, :width]


def map_to_heads(x: torch.Tensor, num_heads: int, parts: int = 1):
    """``(B, parts*C, H, W)`` -> ``parts`` tensors ``(B, h, H*W, C/h)``:
    views of a channels-last map (other layouts are copied once)."""
    batch, channels = x.shape[:2]
    x = x.permute(0, 2, 3, 1).contiguous()  # (B, H, W, parts*C)
    x = x.view(batch, -1, parts, num_heads, channels // (parts * num_heads))
    return x.permute(2, 0, 3, 1, 4).unbind(0)


def global_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     height: int, width: int) -> torch.Tensor:
    """Attention of every query position over every key position.

    Args:
        q (Tensor): Queries ``(B, h, H*W, d)`` (from :func:`map_to_heads`).
        k (Tensor): Keys ``(B, h, n, d)``, any number of positions (e.g.
            pooled).
        v (Tensor): Values, same shape as ``k``.
        height (int): ``H``.
        width (int): ``W``.

    Returns:
        Tensor: ``(B, h*d, H, W)``, channels-last in memory.
    """
    out = query_split_attention(q, k, v)  # (B, h, H*W, d)
    return tokens_to_map(out.transpose(1, 2), height, width)


def query_split_attention(q: torch.Tensor, k: torch.Tensor,
                          v: torch.Tensor) -> torch.Tensor:
    """SDPA of ``(B, h, N, d)`` queries, split into ``c`` blocks of queries
    on the batch dim where autograd records it on the CPU and ``B * h`` is
    below the thread count: the CPU flash kernel's backward works on one
    (image, head) pair per thread, so HAT-Net's one-head first stage at
    batch 1 ran on one thread (forward + backward at 3136 queries, 49 keys,
    2 threads: 10.2 ms, split 2.9 ms; 16 384 queries: 43.9 ms, 10.3 ms).
    Queries are independent: the values are SDPA's."""
    batch, heads, length, dim = q.shape
    chunks = torch.get_num_threads() // (batch * heads)
    if (chunks < 2 or length % chunks or q.device.type != 'cpu'
            or not (torch.is_grad_enabled() and q.requires_grad)):
        return F.scaled_dot_product_attention(q, k, v)
    # (B, h, N, d) -> (B*c, h, N/c, d), a view of channels-last heads
    q = q.view(batch, heads, chunks, length // chunks, dim).transpose(
        1, 2).reshape(batch * chunks, heads, length // chunks, dim)
    out = F.scaled_dot_product_attention(
        q, k.repeat_interleave(chunks, 0), v.repeat_interleave(chunks, 0))
    return out.view(batch, chunks, heads, length // chunks, dim).transpose(
        1, 2).reshape(batch, heads, length, dim)


class PointwiseConv(nn.Conv2d):
    """``nn.Conv2d(in_channels, out_channels, 1)`` (same parameters,
    initialisation and state-dict keys) computed as a linear layer over the
    channels of a channels-last map: a plain GEMM, which with its backward
    takes less CPU time than mkldnn's 1x1 convolution at most of HAT-Net's
    shapes (2 threads: 2.1x less at 48 -> 144 channels on 56^2, 14 % at
    240 -> 960 on 14^2; 13 % more only at 384 -> 1536 on 7^2). The output
    is channels-last."""

    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        out = F.linear(x.permute(0, 2, 3, 1), self.weight.flatten(1),
                       self.bias)  # (B, H, W, C_out)
        return out.permute(0, 3, 1, 2)


# activations that take no ``inplace`` argument (as in mmcv's ConvModule)
_NO_INPLACE = ('Tanh', 'PReLU', 'Sigmoid', 'HSigmoid', 'Swish', 'GELU')


class InplaceActivation(nn.Module):
    """The activation of ``act_cfg`` for an input nothing else reads (a
    convolution's or norm's output): in place where autograd records
    nothing (3x less time than SiLU out of place on the CPU), out of place
    where it records the call (in place, autograd would copy the input that
    the backward of SiLU or ELU needs)."""

    def __init__(self, act_cfg: dict):
        super().__init__()
        self.inplace = build_activation_layer(dict(act_cfg, inplace=True))
        self.out_of_place = build_activation_layer(
            dict(act_cfg, inplace=False))

    def forward(self, x):
        if torch.is_grad_enabled() and x.requires_grad:
            return self.out_of_place(x)
        return self.inplace(x)


def build_inplace_activation(act_cfg: dict) -> nn.Module:
    """The activation of ``act_cfg``, through :class:`InplaceActivation`
    where it supports ``inplace`` (those that do hold no parameters) and
    ``act_cfg`` does not set ``inplace=False``."""
    if act_cfg['type'] in _NO_INPLACE or act_cfg.get('inplace') is False:
        return build_activation_layer(act_cfg)
    return InplaceActivation(act_cfg)


class InvertedResidualFFN(BaseModule):
    """Inverted-residual MLP on NCHW maps (MobileNetV2-style).

    ``norm -> 1x1 conv (expand) -> act -> KxK depth-wise conv -> act ->
    1x1 conv (project) -> norm``, without biases in the convolutions. This is
    the "MLP with a DW-Conv" of HAT-Net (paper Sec. 3.3); the residual is
    added by the caller.

    Args:
        channels (int): Input and output channels.
        hidden_channels (int): Expanded channels (``E * channels``).
        kernel_size (int): Side of the depth-wise kernel.
        norm_cfg (dict): Norm before the expansion and after the projection.
        act_cfg (dict): Activation after the expansion and the DW conv.
        drop_rate (float): Channel dropout (``Dropout2d``) after the DW conv
            and after the output norm.
        dwconv (bool): With the depth-wise conv; without it (and its
            activation) the MLP is a plain transformer MLP.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, channels, hidden_channels, kernel_size, norm_cfg,
                 act_cfg, drop_rate=0., dwconv=True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.fc1 = PointwiseConv(channels, hidden_channels, bias=False)
        self.act1 = build_inplace_activation(act_cfg)
        self.dwconv = nn.Conv2d(
            hidden_channels, hidden_channels, kernel_size,
            padding=kernel_size // 2, groups=hidden_channels,
            bias=False) if dwconv else nn.Identity()
        self.act2 = build_inplace_activation(
            act_cfg) if dwconv else nn.Identity()
        self.fc2 = PointwiseConv(hidden_channels, channels, bias=False)
        self.out_norm = build_norm_layer(norm_cfg, channels)[1]
        self.drop = nn.Dropout2d(drop_rate)

    def forward(self, x):
        """(B, C, H, W) -> (B, C, H, W)."""
        x = self.act1(self.fc1(self.norm(x)))  # (B, E*C, H, W)
        x = self.drop(self.act2(self.dwconv(x)))
        return self.drop(self.out_norm(self.fc2(x)))


class ConvStem(BaseModule):
    """Two 3x3 stride-2 convolutions: an overall stride of 4.

    ``conv1 -> norm -> act -> conv2``; nothing follows the second conv, as in
    HAT-Net's stem (paper Sec. 3.3, "two sequential vanilla 3x3 convs").

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Channels after the first conv.
        out_channels (int): Channels after the second conv.
        norm_cfg (dict): Norm after the first conv.
        act_cfg (dict): Activation after that norm.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, in_channels, mid_channels, out_channels, norm_cfg,
                 act_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, 2, 1)
        self.norm = build_norm_layer(norm_cfg, mid_channels)[1]
        self.act = build_inplace_activation(act_cfg)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, 2, 1)

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, ceil(H/4), ceil(W/4))."""
        return self.conv2(self.act(self.norm(self.conv1(x))))


class ConvDownsample(BaseModule):
    """A 3x3 stride-2 convolution followed by a norm, halving the map."""

    def __init__(self, in_channels, out_channels, norm_cfg, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, ceil(H/2), ceil(W/2))."""
        return self.norm(self.conv(x))


class HMHSA(BaseModule):
    """Hierarchical multi-head self-attention (paper Sec. 3.2, Eqs. 6-14).

    With ``grid_size > 1``: local attention inside ``G1 x G1`` grids (Eq. 8),
    ``A1 = GN(A1 + X)`` (Eq. 9; the norm is the official code's), then every
    position attends to the ``G2 x G2``-average-pooled ``A1`` (Eqs. 10-13),
    and the output is ``(A1 + A2) W^p`` (Eq. 14, residual added by the block).
    With ``grid_size == 1`` it is plain MHSA, as in the last stage.

    Args:
        channels (int): Channels ``C``.
        head_dim (int): Channels per head.
        grid_size (int): ``G1``; 1 selects plain MHSA.
        pool_size (int): ``G2``, the average-pooling factor of the global
            keys and values.
        norm_cfg (dict): Norm config.
        drop_rate (float): Channel dropout after the output projection.
        window_only (bool): Window attention alone, ``A1 W^p`` without the
            global step (the "window attention" H-MHSA replaces in Tab. 5;
            the paper gives it no shifted windows or position bias).
    """

    def __init__(self, channels, head_dim, grid_size, pool_size, norm_cfg,
                 drop_rate=0., window_only=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if channels % head_dim:
            raise ValueError(f'channels {channels} not divisible by head_dim '
                             f'{head_dim}.')
        if window_only and grid_size == 1:
            raise ValueError('window_only needs windows (grid_size > 1).')
        self.num_heads = channels // head_dim
        self.grid_size = grid_size
        self.pool_size = pool_size
        self.window_only = window_only
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.qkv = PointwiseConv(channels, 3 * channels)
        self.proj = PointwiseConv(channels, channels)
        self.drop = nn.Dropout2d(drop_rate)
        if grid_size > 1 and not window_only:
            self.grid_norm = build_norm_layer(norm_cfg, channels)[1]
            self.pool_norm = build_norm_layer(norm_cfg, channels)[1]
            self.q = PointwiseConv(channels, channels)
            self.kv = PointwiseConv(channels, 2 * channels)

    def forward(self, x):
        """(B, C, H, W) -> (B, C, H, W), without the block residual."""
        height, width = x.shape[-2:]
        normed = self.norm(x)
        if self.grid_size == 1:
            qkv = self.qkv(normed)  # (B, 3C, H, W)
            out = global_attention(*map_to_heads(qkv, self.num_heads, 3),
                                   height, width)
        elif self.window_only:
            out = window_attention(normed, self.qkv, self.num_heads,
                                   self.grid_size)
        else:
            local = window_attention(normed, self.qkv, self.num_heads,
                                     self.grid_size)
            local = self.grid_norm(x + local)  # A1 of Eq. 9
            # (B, C, ceil(H/G2), ceil(W/G2))
            pooled = avg_pool_ceil(local, self.pool_size)
            kv = self.kv(self.pool_norm(pooled))  # (B, 2C, ., .)
            out = global_attention(
                *map_to_heads(self.q(local), self.num_heads),
                *map_to_heads(kv, self.num_heads, 2), height, width)
            out = out + local
        return self.drop(self.proj(out))


class HATBlock(BaseModule):
    """``x + H-MHSA(x)`` followed by ``x + MLP(x)``, with stochastic depth."""

    def __init__(self, channels, head_dim, grid_size, pool_size, mlp_ratio,
                 kernel_size, norm_cfg, act_cfg, drop_rate=0.,
                 drop_path_rate=0., window_only=False, ffn_dwconv=True,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.attn = HMHSA(channels, head_dim, grid_size, pool_size, norm_cfg,
                          drop_rate, window_only)
        self.ffn = InvertedResidualFFN(channels, channels * mlp_ratio,
                                       kernel_size, norm_cfg, act_cfg,
                                       drop_rate, ffn_dwconv)
        self.drop_path = DropPath(drop_path_rate)

    def _forward(self, x):
        x = x + self.drop_path(self.attn(x))
        return x + self.drop_path(self.ffn(x))

    def forward(self, x):
        """(B, C, H, W) -> (B, C, H, W)."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


class HATStage(BaseModule):
    """A stage's downsampling (``nn.Identity`` in the first stage), then its
    blocks."""

    def __init__(self, downsample, blocks, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.downsample = downsample
        self.blocks = ModuleList(blocks)

    def forward(self, x):
        x = self.downsample(x)
        for block in self.blocks:
            x = block(x)
        return x


@MODELS.register_module()
class HATNet(PyramidBackbone):
    """HAT-Net backbone (paper Tab. 1).

    A conv stem (paper stage 1, stride 4) and four transformer stages
    (paper stages 2-5, strides 4, 8, 16, 32). Stage ``i`` outputs
    ``embed_dims[i]`` channels; the outputs are taken after each stage's last
    block, before the next downsampling.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``, ``'large'``
            (or ``'t'``, ``'s'``, ``'m'``, ``'l'``), or a dict with the keys
            of :attr:`arch_zoo`'s entries.
        in_channels (int): Image channels. Defaults to 3.
        grid_sizes (Sequence[int]): ``G1`` per stage; 1 means plain MHSA.
            Defaults to the ImageNet setting ``(8, 7, 7, 1)``; the paper uses
            ``(8, 8, 8, 1)`` for segmentation and detection (Secs. 4.2-4.3).
            Grids are parameter-free, so weights transfer between settings.
        pool_sizes (Sequence[int]): ``G2`` per stage. Defaults to
            ``(8, 4, 2, 1)`` (ImageNet); dense tasks use ``(16, 8, 4, 1)``.
        out_indices (Sequence[int]): Output stages. Defaults to all four.
        drop_rate (float): Channel dropout in attention and MLP.
        drop_path_rate (float): Stochastic depth, rising linearly from 0 to
            this value over all blocks.
        norm_cfg (dict): Norm config; the official ``GroupNorm(1, C)``.
        act_cfg (dict): Activation config; SiLU (paper Sec. 3.3; GELU in the
            Sec. 4.4 comparison).
        window_only (Sequence[bool]): Per stage, window attention without
            H-MHSA's global step (Tab. 5: designs 1-3 use it in stages
            2-4 / 3-4 / 4 of the paper, our stages 0-2 / 1-2 / 2). Needs
            ``grid_sizes > 1``.
        ffn_dwconv (bool): Depth-wise convs in the MLPs; ``False`` is the
            "pure transformer version" of Sec. 4.4.
        frozen_stages (int): See :class:`PyramidBackbone`; 0 is the stem.
        norm_eval (bool): Keep BN layers in eval mode (only relevant when
            ``norm_cfg`` is a batch norm).
        with_cp (bool): Gradient checkpointing of every block.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')``. Without it, weights are
            initialised as in the official code.

    Example:
        >>> import torch
        >>> from mmhvit.models import HATNet
        >>> model = HATNet(arch='tiny', grid_sizes=(8, 8, 8, 1),
        ...                pool_sizes=(16, 8, 4, 1)).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 100, 150))]
        [(1, 48, 25, 38), (1, 96, 13, 19), (1, 240, 7, 10), (1, 384, 4, 5)]
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'],
                        {'stem_channels': 16,
                         'embed_dims':    (48, 96, 240, 384),
                         'depths':        (2, 2, 6, 3),
                         'head_dim':      48,
                         'mlp_ratios':    (8, 8, 4, 4),
                         'kernel_sizes':  (3, 3, 3, 3)}),
        **dict.fromkeys(['s', 'small'],
                        {'stem_channels': 16,
                         'embed_dims':    (64, 128, 320, 512),
                         'depths':        (2, 3, 8, 3),
                         'head_dim':      64,
                         'mlp_ratios':    (8, 8, 4, 4),
                         'kernel_sizes':  (3, 3, 3, 3)}),
        **dict.fromkeys(['m', 'medium'],
                        {'stem_channels': 16,
                         'embed_dims':    (64, 128, 320, 512),
                         'depths':        (3, 6, 18, 3),
                         'head_dim':      64,
                         'mlp_ratios':    (8, 8, 4, 4),
                         'kernel_sizes':  (5, 3, 5, 3)}),
        **dict.fromkeys(['l', 'large'],
                        {'stem_channels': 16,
                         'embed_dims':    (64, 128, 320, 640),
                         'depths':        (3, 8, 27, 3),
                         'head_dim':      64,
                         'mlp_ratios':    (8, 8, 4, 4),
                         'kernel_sizes':  (3, 3, 3, 3)}),
    }  # yapf: enable
    num_stages = 4
    official_format = 'hat_net'

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 grid_sizes=(8, 7, 7, 1),
                 pool_sizes=(8, 4, 2, 1),
                 out_indices=(0, 1, 2, 3),
                 drop_rate=0.,
                 drop_path_rate=0.,
                 norm_cfg=dict(type='GN', num_groups=1, eps=1e-6),
                 act_cfg=dict(type='SiLU'),
                 window_only=(False, False, False, False),
                 ffn_dwconv=True,
                 frozen_stages=-1,
                 norm_eval=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(self.num_stages, out_indices, frozen_stages,
                         norm_eval, init_cfg)
        arch = self.arch_settings(arch, grid_sizes=grid_sizes,
                                  pool_sizes=pool_sizes,
                                  window_only=window_only)
        self.embed_dims = arch['embed_dims']

        self.stem = ConvStem(in_channels, arch['stem_channels'],
                             self.embed_dims[0], norm_cfg, act_cfg)
        rates = drop_path_rates(drop_path_rate, arch['depths'])
        self.stages = ModuleList()
        for i, channels in enumerate(self.embed_dims):
            downsample = ConvDownsample(
                self.embed_dims[i - 1], channels,
                norm_cfg) if i > 0 else nn.Identity()
            blocks = [
                HATBlock(channels, head_dim=arch['head_dim'],
                         grid_size=arch['grid_sizes'][i],
                         pool_size=arch['pool_sizes'][i],
                         mlp_ratio=arch['mlp_ratios'][i],
                         kernel_size=arch['kernel_sizes'][i],
                         norm_cfg=norm_cfg, act_cfg=act_cfg,
                         drop_rate=drop_rate, drop_path_rate=rate,
                         window_only=arch['window_only'][i],
                         ffn_dwconv=ffn_dwconv, with_cp=with_cp)
                for rate in rates[i]
            ]
            self.stages.append(HATStage(downsample, blocks))
        self._freeze_stages()

    def frozen_modules(self):
        return [self.stem, *self.stages]

    def layers_by_depth(self):
        """The stem, then the blocks; a downsampling joins the first block
        of its stage."""
        return [[self.stem]] + [
            layer for stage in self.stages
            for layer in stage_layers(stage.blocks, [stage.downsample])
        ]

    def init_default_weights(self):
        """Truncated-normal convs, unit norms: the official initialisation."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                trunc_normal_init(module, std=.02, bias=0.)
            elif isinstance(module, (nn.GroupNorm, nn.LayerNorm,
                                     nn.modules.batchnorm._BatchNorm)):
                constant_init(module, val=1., bias=0.)

    def forward(self, x):
        """(B, 3, H, W) -> tuple of (B, C_i, H/s_i, W/s_i) for out_indices.

        The stages run on channels-last maps (attention splits them into
        heads by views; convolutions and norms keep the format); the
        outputs are NCHW in memory, as mmcv's ops expect. The stem stays
        on NCHW: mkldnn's channels-last convolution of 3 input channels
        rounds a batch of images differently from each image alone."""
        x = self.stem(x).contiguous(memory_format=torch.channels_last)
        return self.forward_stages(x)
