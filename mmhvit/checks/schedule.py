"""Checks of the training schedule before the first iteration: its length,
its validation interval and, for a resumed run, what is left of it.

mmengine's loops accept ``max_iters`` or ``max_epochs`` of 0 or less and a
run resumed at or past the end of its schedule, and exit 0 having trained
and validated nothing; a ``val_interval`` of 0 dies in a
``ZeroDivisionError`` after the first iteration.
"""
from typing import Optional

from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmhvit.utils import ConfigError


def check_schedule(loop, validates: bool, resumed_from: Optional[str] = None,
                   validation_pending: bool = False) -> None:
    """errors.md rows 96-98: the loop trains at least one iteration or
    epoch, validates every ``val_interval >= 1`` of them (when the run
    validates), and a run resumed from ``resumed_from`` has something left
    to do: iterations to train, or the validation its checkpoint was saved
    in the middle of (``validation_pending``, ``PreemptionHook``).

    Args:
        loop: The runner's training loop (mmengine's iteration- or
            epoch-based one, or a subclass; others are not checked).
        validates (bool): Whether the run has a validation loop.
        resumed_from (str, optional): The checkpoint the run resumed from.
        validation_pending (bool): Whether that checkpoint was saved during
            a validation.

    Raises:
        ConfigError: naming the setting, its value and the fix.
    """
    if not isinstance(loop, (EpochBasedTrainLoop, IterBasedTrainLoop)):
        return  # a loop of another kind
    by_epoch = isinstance(loop, EpochBasedTrainLoop)
    unit, key = ('epochs', 'max_epochs') if by_epoch else ('iters',
                                                           'max_iters')
    length = getattr(loop, key)
    example = 12 if by_epoch else 40000
    if length <= 0:
        raise ConfigError(
            f'train_cfg.{key}={length} trains nothing: it must be at least 1 '
            f'(the {unit} to train, e.g. --cfg-options train_cfg.{key}='
            f'{example}).')
    interval = getattr(loop, 'val_interval', 1)
    if validates and interval <= 0:
        raise ConfigError(
            f'train_cfg.val_interval={interval}: validation cannot run every '
            f'{interval} {unit} (mmengine divides by it: ZeroDivisionError '
            f'after the first). Set it to at least 1, e.g. --cfg-options '
            f'train_cfg.val_interval={length} to validate once, at the end.')
    done = loop.epoch if by_epoch else loop.iter
    if resumed_from and done >= length and not validation_pending:
        raise ConfigError(
            f'Cannot resume from {resumed_from}: it was saved after '
            f'{done} {unit} (iteration {loop.iter}), at or past the end of '
            f'the schedule (train_cfg.{key}={length}), so there is nothing '
            f'left to train or validate. To train further, raise the end, '
            f'e.g. --cfg-options train_cfg.{key}={done + length} (and the '
            'end of any param_scheduler that ends there); to evaluate it, '
            'run tools/test.py CONFIG CHECKPOINT.')
