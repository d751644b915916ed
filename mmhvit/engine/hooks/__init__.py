"""Registered hooks: mmhvit's run-time safety, named in the base runtimes
(``configs/_base_/runtimes/``) so that every entry point gets it."""
from .checkpoint_hook import (ATOMIC_BACKEND_ARGS, AtomicCheckpointHook,
                              AtomicLocalBackend, NoRoomError)
from .iteration_seed_hook import IterationSeedHook
from .nonfinite_loss_hook import NonFiniteLossHook
from .preemption_hook import PreemptionHook
from .preflight_check_hook import PreflightCheckHook
from .progress_hook import ProgressHook
from .work_dir_lock_hook import (WorkDirInUseError, WorkDirLockHook,
                                 lock_work_dir, unlock_work_dir)

__all__ = [
    'ATOMIC_BACKEND_ARGS', 'AtomicCheckpointHook', 'AtomicLocalBackend',
    'NoRoomError', 'IterationSeedHook', 'NonFiniteLossHook',
    'PreemptionHook', 'PreflightCheckHook', 'ProgressHook',
    'WorkDirInUseError', 'WorkDirLockHook', 'lock_work_dir',
    'unlock_work_dir'
]
