"""Relative position bias from an MLP over offsets (no learned tables)."""
import torch
from mmengine.model import BaseModule
from torch import nn


def _mlp_stage(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.LayerNorm(in_features), nn.ReLU(inplace=True),
        nn.Linear(in_features, out_features))


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

    def forward(self, q_rows: torch.Tensor, q_cols: torch.Tensor,
                k_rows: torch.Tensor, k_cols: torch.Tensor) -> torch.Tensor:
        """Bias between a grid of queries and a grid of keys.

        Args:
            q_rows, q_cols (Tensor): 1-D coordinates of the query grid's rows
                ``(Hq,)`` and columns ``(Wq,)``, in tokens (floats allowed).
            k_rows, k_cols (Tensor): Same for the keys, ``(Hk,)``, ``(Wk,)``.

        Returns:
            Tensor: ``(heads, Hq*Wq, Hk*Wk)``, queries and keys in raster
            order.
        """
        # distinct offsets along each axis and where each pair falls
        dy, y_index = torch.unique(q_rows[:, None] - k_rows[None, :],
                                   return_inverse=True)  # (Uy,), (Hq, Hk)
        dx, x_index = torch.unique(q_cols[:, None] - k_cols[None, :],
                                   return_inverse=True)  # (Ux,), (Wq, Wk)
        offsets = torch.stack(torch.meshgrid(dy, dx, indexing='ij'), -1)
        table = self.pos3(self.pos2(self.pos1(self.pos_proj(
            offsets.to(self.pos_proj.weight.dtype)))))  # (Uy, Ux, heads)
        bias = table[y_index][:, :, x_index]  # (Hq, Hk, Wq, Wk, heads)
        heads = bias.shape[-1]
        hq, hk, wq, wk = y_index.shape + x_index.shape
        # -> (heads, Hq, Wq, Hk, Wk) -> (heads, Hq*Wq, Hk*Wk)
        return bias.permute(4, 0, 2, 1, 3).reshape(heads, hq * wq, hk * wk)
