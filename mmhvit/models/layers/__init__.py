"""Building blocks written to be shared by the mmhvit backbones: the
token clustering (ClusTR, HAFA), window geometry (HAT-Net, HLG, clustering
in windows), attention heads (HLG, ClusTR, HAFA, SETR's ViT) and mmcv's
multi-head attention on SDPA (SETR's ViT, HAFA's PVT), selective
recomputation (SETR's ViT). A block of one family lives in its backbone's
file."""
from .attention import (SDPAMultiheadAttention, heads_to_tokens,
                        sdpa_multihead_attention, swap_classes,
                        tokens_to_heads)
from .clustering import (TokenClusterer, TokenDict, cluster_by_scores, dpc_knn,
                         dpc_scores, importance_weight, kmeans, map2token,
                         merge_tokens, one_image_at_a_time, token2map)
from .recompute import linear_after
from .windows import (WindowGrid, ceil_div, pad_to_multiple, real_positions,
                      window_layout)

__all__ = [
    'SDPAMultiheadAttention', 'heads_to_tokens', 'sdpa_multihead_attention',
    'swap_classes', 'tokens_to_heads', 'linear_after',
    'TokenClusterer', 'TokenDict',
    'cluster_by_scores', 'dpc_knn', 'dpc_scores', 'importance_weight',
    'kmeans', 'map2token', 'merge_tokens', 'one_image_at_a_time',
    'token2map', 'WindowGrid',
    'ceil_div', 'pad_to_multiple', 'real_positions', 'window_layout'
]
