"""What tools build on: helpers around the upstream inferencers
(:mod:`.inference`) and the checkpoint converters' command line
(:mod:`.convert`)."""
from .convert import converter_main
from .inference import (build_inferencer, check_checkpoint, collect_images,
                        infer_image, load_inference_config, task_of)

__all__ = [
    'converter_main', 'build_inferencer', 'check_checkpoint',
    'collect_images', 'infer_image', 'load_inference_config', 'task_of'
]
