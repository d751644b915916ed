"""Relative position bias from an MLP over offsets (no learned tables)."""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from .layout_cache import layout_cache


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
