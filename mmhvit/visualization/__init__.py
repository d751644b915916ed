from .clusters import (cluster_map, collect_sia_clusters, conv_similarity,
                       draw_clusters)

__all__ = [
    'cluster_map', 'collect_sia_clusters', 'conv_similarity', 'draw_clusters'
]
