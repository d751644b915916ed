from .runtime import (add_runtime_args, build_runner, enable_visualization,
                      load_config, setup_launcher)

__all__ = [
    'add_runtime_args', 'build_runner', 'enable_visualization', 'load_config',
    'setup_launcher'
]
