"""Building blocks shared by the mmhvit backbones."""
from .attention import (global_attention, map_to_heads, pad_to_multiple,
                        window_attention)
from .clustering import (TokenClusterer, TokenDict, cluster_by_scores,
                         dpc_knn, dpc_scores, importance_weight, kmeans,
                         map2token, merge_tokens, token2map)
from .embed import ConvDownsample, ConvStem
from .mlp import InvertedResidualFFN

__all__ = [
    'global_attention', 'map_to_heads', 'pad_to_multiple', 'window_attention',
    'TokenClusterer', 'TokenDict', 'cluster_by_scores', 'dpc_knn',
    'dpc_scores', 'importance_weight', 'kmeans', 'map2token', 'merge_tokens',
    'token2map', 'ConvDownsample', 'ConvStem', 'InvertedResidualFFN'
]
