"""Building blocks shared by the mmhvit backbones."""
from .aggregation import (ConvProjection, LocalAdaptiveAggregation,
                          SemanticInformationAggregation, TokenState)
from .attention import (avg_pool_ceil, global_attention, heads_to_tokens,
                        map_to_heads, tokens_to_heads, window_attention)
from .clustering import (TokenClusterer, TokenDict, cluster_by_scores, dpc_knn,
                         dpc_scores, importance_weight, kmeans, map2token,
                         merge_tokens, token2map)
from .embed import ConvDownsample, ConvStem
from .mlp import InvertedResidualFFN
from .position import DynamicPositionBias
from .windows import WindowGrid, ceil_div, pad_to_multiple, real_positions

__all__ = [
    'ConvProjection', 'LocalAdaptiveAggregation',
    'SemanticInformationAggregation', 'TokenState', 'avg_pool_ceil',
    'ceil_div', 'global_attention', 'heads_to_tokens', 'map_to_heads',
    'pad_to_multiple', 'real_positions', 'tokens_to_heads',
    'window_attention', 'TokenClusterer', 'TokenDict', 'cluster_by_scores',
    'dpc_knn', 'dpc_scores', 'importance_weight', 'kmeans', 'map2token',
    'merge_tokens', 'token2map', 'ConvDownsample', 'ConvStem',
    'InvertedResidualFFN', 'DynamicPositionBias', 'WindowGrid'
]
