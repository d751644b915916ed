"""Run-time assembly and safety: registered hooks (which call
:mod:`mmhvit.checks`), the epoch-based training loop that resumes exactly,
and what ``tools/`` share to load a config and build a runner."""
from mmhvit.utils import ConfigError, latest_checkpoint
from .hooks import (AtomicCheckpointHook, IterationSeedHook, NonFiniteLossHook,
                    PreemptionHook, PreflightCheckHook, WorkDirLockHook)
from .loops import EpochBasedTrainLoop
from .optimizers import BackboneLayerDecayOptimWrapperConstructor
from .runner import (ResumableRunner, add_runtime_args, build_runner,
                     enable_visualization, load_config, release_process_group,
                     setup_launcher, use_tta)

__all__ = [
    'ConfigError', 'AtomicCheckpointHook',
    'BackboneLayerDecayOptimWrapperConstructor', 'EpochBasedTrainLoop',
    'IterationSeedHook', 'NonFiniteLossHook', 'PreemptionHook',
    'PreflightCheckHook', 'ResumableRunner',
    'WorkDirLockHook', 'add_runtime_args', 'build_runner',
    'enable_visualization', 'latest_checkpoint', 'load_config',
    'release_process_group', 'setup_launcher', 'use_tta'
]
