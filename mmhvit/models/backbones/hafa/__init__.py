"""HAFA: hierarchy aware feature aggregation on PVT, PVTv2 and Swin
Transformer.

Yongjie Chen, Hongmin Liu, Haoran Yin, Bin Fan, "Building Vision
Transformers with Hierarchy Aware Feature Aggregation". No
official code is public.

The downsampling step in front of stages 2-4 is chosen per stage
(``aggregations``, HAFA Tab. 4): ``'laa'`` (learned-offset sampling, Sec.
3.2), ``'sia'`` (clustering, Sec. 3.3) or ``'conv'`` (the network's own
patch embedding or merging). The default is LAA, LAA, SIA (Fig. 2). The
networks are assembled from mmdet's layers (patch embeddings, PVT encoder
layers, Swin blocks) in mmdet's module layout, so plain PVT / Swin weights
load where they fit; the blocks of a clustered stage are subclasses of
those layers. Readings where the paper is silent:

- LAA is a deformable convolution whose offsets start at zero, with a 3x3
  kernel by default (``laa_kernel``; 3x3 fits the paper's parameter counts
  better than the 2x2 of PVT v1's patch embedding), followed by the
  stage's LayerNorm.
- SIA is TCFormer's clustering token merging (3x3 stride-2 conv + linear
  skip + LayerNorm, DPC-KNN, importance-weighted merge) with as many
  clusters as the downsampled map has pixels (49 at 224x224) unless
  ``num_clusters`` is set. Only the queries are clustered
  (``sia_clustering='q'``): every block of the stage attends from the
  merged tokens to the tokens of the downsampled map (un-clustered, as the
  plain network's stage would have them, hence unchanged GFLOPs), whose
  keys and values get CvT's convolutional projection (3x3 depth-wise conv
  + BN) as implicit positional encoding; the stage has no absolute position
  embedding. ``sia_clustering='qkv'`` (Tab. 5) attends among the merged
  tokens.
- A clustered stage's map (for FPN and the next stage) is rebuilt through
  the dictionary: every pixel of the downsampled map takes the mean of the
  merged tokens of the cells it covers.
- Depth-wise convolutions of PVTv2's FFN run on that map and are read back
  at the tokens.
- In Swin, LAA and SIA replace the patch merging at the end of stages 1-3.
  A clustered stage's blocks attend globally (their window partition and
  relative position bias have no meaning for clusters, and at 224x224 the
  last stage is a single window anyway), with the blocks' own projections.

mmdet's PVT attention runs on ``scaled_dot_product_attention`` (same
parameters and outputs as mmdet's, no attention map kept for backward).

Modules: ``aggregation`` (the token state, LAA, SIA, the plain networks'
patch merging, :class:`AggregationPlan`: the HAFA options and what they
build in front of each stage), ``attention`` (mmdet's PVT attention on
SDPA), ``clustered_blocks`` (mmdet's PVT layer and Swin block attending
from merged tokens), ``backbone`` (:class:`HAFAStage`, one stage's modules
and how they run; :class:`HAFABackbone`, the stage loop), ``pvt`` and
``swin`` (the registered backbones).
"""
from .aggregation import (AGGREGATIONS, AggregationPlan, ConvProjection,
                          LocalAdaptiveAggregation, MapPatchMerging,
                          SemanticInformationAggregation, TokenState,
                          deform_conv2d)
from .backbone import HAFABackbone, HAFAStage
from .clustered_blocks import ClusteredPVTLayer, ClusteredSwinBlock
from .pvt import PVTHAFA, PVTv2HAFA
from .swin import SwinHAFA

__all__ = [
    'AGGREGATIONS', 'AggregationPlan', 'ClusteredPVTLayer',
    'ClusteredSwinBlock', 'ConvProjection', 'HAFABackbone', 'HAFAStage',
    'LocalAdaptiveAggregation',
    'MapPatchMerging', 'PVTHAFA', 'PVTv2HAFA',
    'SemanticInformationAggregation', 'SwinHAFA', 'TokenState',
    'deform_conv2d'
]
