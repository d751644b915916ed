"""Attention primitives on NCHW feature maps, all through PyTorch's SDPA.

Channels are laid out head-major, as ``(num_heads, head_dim)``: a map of
``C = num_heads * head_dim`` channels is split into heads by a plain view.
Every function accepts maps of any height and width; where windows need a
map divisible by their size, the map is zero-padded and the padded keys are
masked out of the softmax, so results never depend on the padding.
"""
import torch
import torch.nn.functional as F

from .windows import WindowGrid, pad_to_multiple, real_positions


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


def window_attention(qkv: torch.Tensor, num_heads: int,
                     window_size: int) -> torch.Tensor:
    """Multi-head self-attention inside non-overlapping ``G x G`` windows.

    Args:
        qkv (Tensor): ``(B, 3*C, H, W)``, queries, keys and values stacked
            on the channel dim in that order, each head-major.
        num_heads (int): Number of heads ``h``; ``C`` must divide by it.
        window_size (int): Window side ``G``. Maps not divisible by ``G``
            are padded, padded keys masked and padded queries cropped.

    Returns:
        Tensor: ``(B, C, H, W)``.
    """
    batch, channels3, height, width = qkv.shape
    head_dim = channels3 // (3 * num_heads)
    grid = WindowGrid.build(height, width, window_size, False, qkv.device)
    qkv = pad_to_multiple(qkv, window_size)
    hp, wp = qkv.shape[-2:]
    gh, gw, g = grid.gh, grid.gw, window_size
    qkv = qkv.view(batch, 3, num_heads, head_dim, gh, g, gw, g)
    # -> (3, B, gh, gw, h, G, G, d) -> (3, B*gh*gw, h, G*G, d), contiguous:
    # a map of one window reshapes to a view with a strided head dim, which
    # SDPA runs only on its math path (CPU and CUDA)
    qkv = qkv.permute(1, 0, 4, 6, 2, 5, 7, 3).reshape(
        3, batch * gh * gw, num_heads, g * g, head_dim).contiguous()
    mask = None
    if grid.valid is not None:  # (gh*gw, G*G) -> (B*gh*gw, 1, 1, G*G)
        mask = grid.valid[:, None, None].repeat(batch, 1, 1, 1)
    out = F.scaled_dot_product_attention(
        qkv[0], qkv[1], qkv[2], attn_mask=mask)
    # (B*gh*gw, h, G*G, d) -> (B, h, d, gh, G, gw, G) -> (B, C, Hp, Wp)
    out = out.view(batch, gh, gw, num_heads, g, g, head_dim)
    out = out.permute(0, 3, 6, 1, 4, 2, 5).reshape(
        batch, num_heads * head_dim, hp, wp)
    return out[..., :height, :width]


def tokens_to_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, L, C)`` -> ``(B, h, L, C/h)``."""
    batch, length, _ = x.shape
    return x.view(batch, length, num_heads, -1).transpose(1, 2)


def heads_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, h, L, d)`` -> ``(B, L, h*d)``."""
    return x.transpose(1, 2).flatten(2)


def map_to_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, h, H*W, C/h)``, contiguous: SDPA's CPU
    kernel needs a unit stride on the head dim and otherwise falls back to
    its math path, 1.6-2.8x slower than copying first (HAT-Net shapes)."""
    batch, channels = x.shape[:2]
    return x.reshape(batch, num_heads, channels // num_heads,
                     -1).transpose(-2, -1).contiguous()


def global_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     num_heads: int) -> torch.Tensor:
    """Attention of every query position over every key position.

    Args:
        q (Tensor): Queries ``(B, C, H, W)``.
        k (Tensor): Keys ``(B, C, h, w)``, any spatial size (e.g. pooled).
        v (Tensor): Values, same shape as ``k``.
        num_heads (int): Number of heads.

    Returns:
        Tensor: ``(B, C, H, W)``.
    """
    batch, channels, height, width = q.shape
    out = F.scaled_dot_product_attention(
        map_to_heads(q, num_heads), map_to_heads(k, num_heads),
        map_to_heads(v, num_heads))  # (B, h, H*W, d)
    return out.transpose(-2, -1).reshape(batch, channels, height, width)
