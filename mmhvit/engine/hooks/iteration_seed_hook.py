"""Random numbers of each training iteration that a resumed run draws
again."""
import logging
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmhvit.registry import HOOKS


def iteration_seed(seed: int, iteration: int, rank: int) -> int:
    """A 32-bit seed derived from the run's seed, the iteration and the
    process rank (independent streams for every pair)."""
    return int(np.random.SeedSequence([seed, iteration, rank]).generate_state(
        1)[0])


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Seed torch (CPU and CUDA), numpy and ``random`` at the start of
    every training iteration from the run's seed, the iteration and the
    process rank.

    Dropout, stochastic depth and the random samplers of detection heads
    then draw the same numbers in an iteration whatever came before it, so
    a run resumed from a checkpoint of iteration ``i`` continues exactly as
    the uninterrupted run did: checkpoints need not carry the generators'
    states, and validation or logging in between cannot shift them.

    The data pipeline's random numbers are drawn in the data-loader workers,
    whose generators mmengine seeds from the run's seed when they start; an
    iteration-based loop replays the skipped batches through them on resume
    (``IterBasedTrainLoop``), so resumed iteration-based runs get the same
    batches too. With ``num_workers=0`` the pipeline shares the main
    process's generators instead, and the augmentations after a resume
    differ (a warning says so). Persistent workers of mmengine's epoch-based
    loop restart their streams on resume, so its augmentations differ too
    (a warning says so); ``mmhvit.EpochBasedTrainLoop`` seeds each sample
    from the run's seed, the epoch and the sample's index instead, which
    makes both exact. mmhvit's base runtimes
    (``configs/_base_/runtimes/``) list this hook in ``custom_hooks``.
    """
    priority = 'VERY_HIGH'

    def __init__(self):
        self._resumed_at = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_at = checkpoint.get('meta', {}).get('iter')

    def before_train(self, runner) -> None:
        if not self._resumed_at or runner.iter != self._resumed_at or \
                getattr(runner.train_loop, 'seeds_samples', False):
            return  # mmhvit.EpochBasedTrainLoop seeds every sample
        loader = runner.train_dataloader
        if getattr(loader, 'num_workers', 1) == 0:
            print_log(
                'Resuming with train_dataloader.num_workers=0: the data '
                "pipeline draws from the main process's random generators, "
                'so the augmentations from here on differ from an '
                'uninterrupted run (model, optimizer and the dropout of each '
                'iteration do not). Use num_workers >= 1 for an exact '
                'resume.', logger='current', level=logging.WARNING)
        elif getattr(loader, 'persistent_workers', False) and \
                isinstance(runner.train_loop, EpochBasedTrainLoop):
            print_log(
                'Resuming an epoch-based run with persistent data workers '
                '(train_dataloader.persistent_workers=True): they start their '
                'random streams anew, while those of the uninterrupted run '
                'went on from the epochs before, so the augmentations from '
                'here on differ from it (the samples of each batch, their '
                'order, model, optimizer, learning rates and the dropout of '
                'each iteration do not). mmhvit.EpochBasedTrainLoop (what '
                'tools/train.py uses) seeds every sample of a dataset with a '
                'pipeline; with persistent_workers=False workers start every '
                'epoch with the same streams. Either resumes exactly.',
                logger='current', level=logging.WARNING)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        seed = iteration_seed(runner.seed, runner.iter, get_rank())
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)  # every CUDA device too
