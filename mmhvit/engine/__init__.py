"""Runtime safeguards: hooks and checks that stop a run early with a named
error (see docs/errors.md)."""
from .checks import (ConfigError, check_checkpointing_under_ddp,
                     check_num_classes, install_forward_checks)
from .hooks import NonFiniteLossHook, PreflightCheckHook

__all__ = [
    'ConfigError', 'check_checkpointing_under_ddp', 'check_num_classes',
    'install_forward_checks', 'NonFiniteLossHook', 'PreflightCheckHook'
]
