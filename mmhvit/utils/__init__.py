from .profiling import Measurement, measure
from .runtime import (add_runtime_args, build_runner, check_data_paths,
                      enable_visualization, latest_checkpoint, load_config,
                      release_process_group, setup_launcher)

__all__ = [
    'Measurement', 'measure', 'add_runtime_args', 'build_runner',
    'check_data_paths', 'enable_visualization', 'latest_checkpoint',
    'load_config', 'release_process_group', 'setup_launcher'
]
