"""Helpers around the upstream inferencers (see :mod:`.inference`)."""
from .inference import (build_inferencer, check_checkpoint, collect_images,
                        infer_image, load_inference_config, task_of)

__all__ = [
    'build_inferencer', 'check_checkpoint', 'collect_images', 'infer_image',
    'load_inference_config', 'task_of'
]
