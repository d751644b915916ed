"""Building blocks shared by the mmhvit backbones."""
from .attention import (global_attention, map_to_heads, pad_to_multiple,
                        window_attention)
from .embed import ConvDownsample, ConvStem
from .mlp import InvertedResidualFFN

__all__ = [
    'global_attention', 'map_to_heads', 'pad_to_multiple', 'window_attention',
    'ConvDownsample', 'ConvStem', 'InvertedResidualFFN'
]
