"""Datasets: synthetic generators in the real on-disk layouts, the checked
loading transforms (registered in ``mmhvit.registry.TRANSFORMS``) and the
validation rules they and the pre-flight checks share."""
from .coco import CheckedCocoDataset
from .synthetic import (SHAPE_CLASSES, dataset_classes, make_ade20k,
                        make_cityscapes, make_coco, make_imagenet,
                        render_scene)
from .transforms import CheckedLoadImageFromFile, CheckedLoadSegAnnotations
from .validation import SampleError

__all__ = [
    'SHAPE_CLASSES', 'dataset_classes', 'make_ade20k', 'make_cityscapes',
    'make_coco', 'make_imagenet', 'render_scene', 'CheckedLoadImageFromFile',
    'CheckedLoadSegAnnotations', 'CheckedCocoDataset', 'SampleError'
]
