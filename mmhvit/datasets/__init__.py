"""Datasets: synthetic generators in the real on-disk layouts, and the
checked loading transforms and datasets (registered in ``mmhvit.registry``),
which call :mod:`mmhvit.checks`."""
from mmhvit.checks import SampleError
from .coco import CheckedCocoDataset
from .synthetic import (SHAPE_CLASSES, dataset_classes, make_ade20k,
                        make_cityscapes, make_coco, make_imagenet,
                        render_scene)
from .transforms import CheckedLoadImageFromFile, CheckedLoadSegAnnotations

__all__ = [
    'SHAPE_CLASSES', 'dataset_classes', 'make_ade20k', 'make_cityscapes',
    'make_coco', 'make_imagenet', 'render_scene', 'CheckedLoadImageFromFile',
    'CheckedLoadSegAnnotations', 'CheckedCocoDataset', 'SampleError'
]
