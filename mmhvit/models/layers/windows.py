"""Window geometry: padding a map to a multiple of the window side, which
positions of a padded map are real, and how a map splits into windows.

There are two splits, and they cannot be one. :class:`WindowGrid` is the
windows of an attention (HAT-Net's local attention, HLG's plain and dilated
windows): exactly ``R x R`` tokens each, the map zero-padded to a multiple
of ``R`` and the padded keys masked, so that every window holds the
relative positions its position bias was trained on (HLG's equivalence with
the official code rests on it); it partitions by reshaping, which is fast
and exports. :func:`window_layout` is the windows of clustering
(:class:`~.clustering.TokenClusterer`): at most ``R`` tokens a side, sizes
as equal as possible (11 rows in windows of 4: 3 + 4 + 4, not 4 + 4 + 3
padded to 12), because every window gets ``ceil(n / lambda)`` clusters of
its fewest tokens ``n``; unequal windows are gathered by index.

The attention geometry is written without in-place writes and with sizes
that may be traced, so the backbones using it export to ONNX; the
clustering layout is computed once per map size, on the CPU.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from .layout_cache import layout_cache


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for non-negative sizes; also right when ``a`` is a
    traced size (ONNX divides by truncation, so ``-(-a // b)`` breaks)."""
    return (a + b - 1) // b


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad the last two dims of ``x`` (bottom/right) to a multiple."""
    h, w = x.shape[-2:]
    pad_h = ceil_div(h, multiple) * multiple - h
    pad_w = ceil_div(w, multiple) * multiple - w
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h))
    return x


def real_positions(height: int, width: int, padded_height: int,
                   padded_width: int, device=None) -> torch.Tensor:
    """``(Hp, Wp)`` boolean map, true on the ``H x W`` real positions of a
    map padded at the bottom and right (built without in-place writes, so
    it traces and exports)."""
    rows = torch.arange(padded_height, device=device) < height
    cols = torch.arange(padded_width, device=device) < width
    return rows[:, None] & cols[None, :]


class WindowGrid(NamedTuple):
    """How an ``H x W`` map splits into ``R x R``-token windows.

    The map is zero-padded to ``Hp x Wp``, multiples of ``R``, which makes
    ``gh x gw = Hp/R x Wp/R`` windows. A plain window holds an ``R x R``
    block; a dilated one the tokens ``(a + i*gh, b + j*gw)``, ``i, j < R``:
    it spans the whole map with a dilation of ``gh``.
    """
    height: int
    width: int
    size: int
    gh: int
    gw: int
    dilated: bool
    valid: Optional[torch.Tensor]  # (gh*gw, R*R) real tokens; None: no pad

    @classmethod
    def build(cls, height, width, size, dilated, device):
        gh, gw = ceil_div(height, size), ceil_div(width, size)
        grid = cls(height, width, size, gh, gw, dilated, None)
        if height % size or width % size:
            valid = real_positions(height, width, gh * size, gw * size,
                                   device)
            grid = grid._replace(
                valid=grid.partition(valid[None, :, :, None])[0, ..., 0])
        return grid

    def partition(self, x):
        """``(B, H, W, C)`` -> ``(B, gh*gw, R*R, C)``, padding with zeros."""
        r, gh, gw = self.size, self.gh, self.gw
        x = F.pad(x, (0, 0, 0, gw * r - x.shape[2], 0, gh * r - x.shape[1]))
        if self.dilated:  # (B, R, gh, R, gw, C) -> (B, gh, gw, R, R, C)
            x = x.view(-1, r, gh, r, gw, x.shape[-1]).permute(0, 2, 4, 1, 3, 5)
        else:  # (B, gh, R, gw, R, C) -> (B, gh, gw, R, R, C)
            x = x.view(-1, gh, r, gw, r, x.shape[-1]).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(x.shape[0], gh * gw, r * r, -1)

    def reverse(self, x):
        """``(B, gh*gw, R*R, C)`` -> ``(B, H, W, C)``, padding dropped."""
        r, gh, gw = self.size, self.gh, self.gw
        x = x.view(-1, gh, gw, r, r, x.shape[-1])
        order = (0, 3, 1, 4, 2, 5) if self.dilated else (0, 1, 3, 2, 4, 5)
        x = x.permute(*order).reshape(x.shape[0], gh * r, gw * r, -1)
        return x[:, :self.height, :self.width]

    def mean(self, x):
        """Average of the real tokens of each window: ``(B, gh*gw, C)``."""
        windows = self.partition(x)
        if self.valid is None:
            return windows.mean(2)
        counts = self.valid.sum(1, keepdim=True).to(x.dtype)  # (gh*gw, 1)
        return windows.sum(2) / counts

    def centres(self):
        """Row and column coordinates (tuples of ``gh`` and ``gw`` floats)
        of the centroids of the windows' real tokens."""
        r = self.size

        def axis(num, length):
            if self.dilated:  # tokens index + i*num for i < count
                return tuple(index + num * (ceil_div(length - index, num) - 1)
                             / 2 for index in range(num))
            return tuple((index * r + min((index + 1) * r, length) - 1) / 2
                         for index in range(num))

        return axis(self.gh, self.height), axis(self.gw, self.width)


def _split(length: int, parts: int):
    """Split ``range(length)`` into ``parts`` runs whose sizes differ by at
    most one; runs are padded to the longest with their last index.
    Returns ``(parts, longest)`` indices and validity."""
    starts = torch.arange(parts) * length // parts
    ends = torch.arange(1, parts + 1) * length // parts
    index = starts[:, None] + torch.arange(ceil_div(length, parts))
    valid = index < ends[:, None]
    return torch.minimum(index, ends[:, None] - 1), valid


@layout_cache(maxsize=64)
def window_layout(height: int, width: int, window_size: int,
                  device: torch.device):
    """Windows of at most ``window_size`` tokens a side, as equal as
    possible, covering an ``H x W`` grid of tokens in raster order.

    Returns:
        tuple: ``index`` ``(nW * P,)`` token of each window slot (padded
        slots repeat a token of their window), ``valid`` ``(nW, P)``,
        ``slot`` ``(H * W,)`` the slot holding each token, the window count
        ``nW`` and the fewest real tokens of any window.
    """
    rows, rows_valid = _split(height, ceil_div(height, window_size))
    cols, cols_valid = _split(width, ceil_div(width, window_size))
    # (ph, pw, hp, wp) -> (nW, P)
    index = (rows[:, None, :, None] * width + cols[None, :, None, :])
    valid = rows_valid[:, None, :, None] & cols_valid[None, :, None, :]
    num_windows = rows.shape[0] * cols.shape[0]
    index, valid = index.reshape(num_windows, -1), valid.reshape(
        num_windows, -1)
    slot = torch.empty(height * width, dtype=torch.long)
    slot[index[valid]] = torch.arange(index.numel()).view_as(index)[valid]
    fewest = (height // rows.shape[0]) * (width // cols.shape[0])
    return (index.flatten().to(device), valid.to(device), slot.to(device),
            num_windows, fewest)
