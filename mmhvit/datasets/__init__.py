from .synthetic import (SHAPE_CLASSES, make_ade20k, make_cityscapes, make_coco,
                        make_imagenet, render_scene)

__all__ = [
    'SHAPE_CLASSES', 'make_ade20k', 'make_cityscapes', 'make_coco',
    'make_imagenet', 'render_scene'
]
