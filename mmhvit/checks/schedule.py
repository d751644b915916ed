"""Checks of the training schedule before the first iteration: its length,
its validation interval and, for a resumed run, what is left of it.

mmengine's loops accept ``max_iters`` or ``max_epochs`` of 0 or less and a
run resumed at or past the end of its schedule, and exit 0 having trained
and validated nothing; a ``val_interval`` of 0 dies in a
``ZeroDivisionError`` after the first iteration. A learning-rate schedule
that decays to 0 before the loop ends (``max_iters`` raised alone, or a
resumed run, whose schedulers mmengine restores from the checkpoint, ``end``
included, over the config) trains the rest at a learning rate of 0.
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
            f'e.g. --cfg-options train_cfg.{key}={done + length} (the '
            'param_schedulers keep the end they were saved with: one that '
            'decays the learning rate to 0 there needs a new run from its '
            'weights, load_from without --resume); to evaluate it, run '
            'tools/test.py CONFIG CHECKPOINT.')


def check_lr_schedule(schedulers, loop,
                      resumed_from: Optional[str] = None) -> None:
    """errors.md row 115: the learning-rate scheduler that ends last does
    not leave iterations of the loop at a learning rate of 0 (a ``PolyLR``
    or ``CosineAnnealingLR`` with ``eta_min=0``, a ``LinearLR`` with
    ``end_factor=0``, ending before ``max_iters`` / ``max_epochs``).

    Args:
        schedulers: The runner's built ``param_schedulers`` (a list, or a
            dict of lists for several optimizers; None: no schedule).
        loop: The runner's training loop.
        resumed_from (str, optional): The checkpoint a resumed run loaded
            its schedulers from.

    Raises:
        ConfigError: naming the scheduler, its end, the iterations left at
            0 and the fix.
    """
    if isinstance(schedulers, dict):
        schedulers = [s for group in schedulers.values() for s in group]
    lr = [s for s in schedulers or []
          if getattr(s, 'param_name', None) == 'lr']
    if not lr or not isinstance(loop,
                                (EpochBasedTrainLoop, IterBasedTrainLoop)):
        return
    last = max(lr, key=lambda s: (s.end if not s.by_epoch else s.end *
                                  len(loop.dataloader)))
    unit, key = ('epochs', 'max_epochs') if last.by_epoch else (
        'iters', 'max_iters')
    length = getattr(loop, key)
    zero = (getattr(last, 'eta_min', None) == 0
            and getattr(last, 'eta_min_ratio', None) is None) or getattr(
                last, 'end_factor', None) == 0
    if not zero or last.end >= length:
        return
    done = loop.epoch if last.by_epoch else loop.iter  # resumed: > 0
    where = (f'{type(last).__name__} ends after {last.end} {unit}, at a '
             f'learning rate of 0, but train_cfg.{key}={length}: {unit} '
             f'{max(last.end, done) + 1}..{length} would train at a learning '
             'rate of 0')
    if resumed_from:
        raise ConfigError(
            f'{where}. The schedulers of a resumed run, their end included, '
            f'come from its checkpoint {resumed_from} (mmengine restores '
            'them over the config), so the schedule cannot be extended by '
            f'resuming. To train on, start a new run from its weights with a '
            f'schedule of its own: --cfg-options load_from={resumed_from} '
            'without --resume (and a fresh work dir).')
    index = schedulers.index(last)  # last is one of them
    raise ConfigError(
        f'{where}. Set the end of the scheduler to the end of training '
        f'(--cfg-options param_scheduler.{index}.end={length}), or '
        f'train_cfg.{key}={last.end}.')
