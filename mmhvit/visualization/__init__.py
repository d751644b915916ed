from .clusters import (cluster_map, collect_sia_clusters, conv_similarity,
                       draw_clusters)
from .predictions import (DrawPredictionsHook, detection_picture,
                          segmentation_picture)

__all__ = [
    'cluster_map', 'collect_sia_clusters', 'conv_similarity', 'draw_clusters',
    'DrawPredictionsHook', 'detection_picture', 'segmentation_picture'
]
