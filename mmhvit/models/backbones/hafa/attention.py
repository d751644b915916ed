"""mmdet's PVT attention (``SpatialReductionAttention``) computed by
``scaled_dot_product_attention``.

mmdet's spatial-reduction attention is mmcv's ``MultiheadAttention``, i.e.
torch's ``nn.MultiheadAttention`` with ``need_weights=True``, which keeps
the ``N x N / R^2`` softmax of every head of every layer for backward
(PVT-T at 512 x 512: 16 384 x 256 per head in stage 1, 8 MiB per layer in
float32). :class:`SDPASpatialReductionAttention` keeps the modules,
parameters and computation and attends through
:func:`~mmhvit.models.layers.sdpa_multihead_attention`, whose fused kernels
keep queries, keys, values, output and one log-sum-exp per row instead.
"""
import torch
from mmdet.models.backbones.pvt import SpatialReductionAttention
from mmdet.models.layers import nchw_to_nlc, nlc_to_nchw

from ...layers import SDPAMultiheadAttention


def reduce_spatially(attn: SpatialReductionAttention,
                     x: torch.Tensor) -> torch.Tensor:
    """PVT's spatial reduction of the keys and values: ``(B, C, H, W)`` ->
    ``(B, H/R * W/R, C)`` tokens, strided conv and norm of ``attn``."""
    return attn.norm(nchw_to_nlc(attn.sr(x)))


class SDPASpatialReductionAttention(SpatialReductionAttention,
                                    SDPAMultiheadAttention):
    """mmdet's ``SpatialReductionAttention`` (same modules, parameters,
    state-dict keys and outputs) attending through
    ``scaled_dot_product_attention``; swapped in after mmdet builds it
    (:func:`~mmhvit.models.layers.swap_classes`), so it adds no state.

    Its parent in the method resolution order after mmdet's class is
    :class:`~mmhvit.models.layers.SDPAMultiheadAttention`, as mmcv's
    ``MultiheadAttention`` is mmdet's: ``super(SpatialReductionAttention,
    attn).forward(query, key, value)`` attends from any queries to any keys
    and values on either class (the clustered blocks use it).
    """

    def forward(self, x, hw_shape, identity=None):
        """``(B, N, C)`` tokens of an ``hw_shape`` grid -> ``identity +
        attention`` (identity: ``x`` unless given), as mmdet's."""
        keys = x if self.sr_ratio == 1 else reduce_spatially(
            self, nlc_to_nchw(x, hw_shape))
        return SDPAMultiheadAttention.forward(self, x, keys,
                                              identity=identity)
