"""Necks for mmpretrain classifiers."""
from mmpretrain.models.necks import GlobalAveragePooling as _GAP

from mmhvit.registry import MODELS


@MODELS.register_module()
class GlobalAveragePooling(_GAP):
    """mmpretrain's ``GlobalAveragePooling`` that also takes a list of
    stage outputs, as mmdet's backbones (PVT, PVTv2, Swin and the HAFA
    variants built on them) return; mmpretrain's accepts tuples only."""

    def forward(self, inputs):
        if isinstance(inputs, list):
            inputs = tuple(inputs)
        return super().forward(inputs)
