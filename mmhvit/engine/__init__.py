"""Run-time assembly and safety: registered hooks, checks of a built model,
and what ``tools/`` share to load a config and build a runner."""
from mmhvit.utils import ConfigError
from .checks import (check_checkpointing_under_ddp, check_num_classes,
                     install_forward_checks)
from .hooks import (AtomicCheckpointHook, IterationSeedHook, NonFiniteLossHook,
                    PreemptionHook, PreflightCheckHook, WorkDirLockHook)
from .runner import (add_runtime_args, build_runner, check_checkpoint_paths,
                     enable_visualization, latest_checkpoint, load_config,
                     release_process_group, setup_launcher)

__all__ = [
    'ConfigError', 'check_checkpointing_under_ddp', 'check_num_classes',
    'install_forward_checks', 'AtomicCheckpointHook', 'IterationSeedHook',
    'NonFiniteLossHook', 'PreemptionHook', 'PreflightCheckHook',
    'WorkDirLockHook', 'add_runtime_args',
    'build_runner', 'check_checkpoint_paths', 'enable_visualization',
    'latest_checkpoint', 'load_config', 'release_process_group',
    'setup_launcher'
]
