"""Training loops that a preempted run continues as the uninterrupted run
would have gone on."""
import logging
import random

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop as MMEngineEpochBasedTrainLoop

from mmhvit.registry import LOOPS


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed derived from the run's seed, the epoch and the sample's
    index in the dataset (independent streams for every triple)."""
    return int(np.random.SeedSequence([seed, epoch, index, 1]).generate_state(
        1)[0])


class SeededCompose(Compose):
    """A data pipeline that seeds ``random``, numpy and torch from the run's
    seed, the epoch and the sample's index (``sample_idx``) before it
    transforms each sample.

    ``state`` is a tensor in shared memory, ``[seed, epoch]``, that the loop
    sets at the start of each epoch and the data-loader workers read (they
    are forked with it). A sample's augmentation then depends on nothing
    but those three numbers: not on the worker that loads it or on what
    that worker loaded before.
    """

    def __init__(self, pipeline: Compose, state: torch.Tensor):
        super().__init__(pipeline.transforms)
        self.state = state

    def __call__(self, results: dict):
        if 'sample_idx' in results:
            seed, epoch = self.state.tolist()
            seed = sample_seed(seed, epoch, results['sample_idx'])
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
        return super().__call__(results)


@LOOPS.register_module()
class EpochBasedTrainLoop(MMEngineEpochBasedTrainLoop):
    """mmengine's epoch-based training loop, resumable exactly: at the
    iteration a run stopped, with the random numbers the uninterrupted run
    would have drawn.

    ``PreemptionHook`` saves the state after the last iteration when a job
    is told to stop (SIGTERM), in the middle of an epoch too. mmengine's
    loop restarts that epoch from its first batch, so a run resumed from
    iteration 6 of 4-iteration epochs trains iterations 5 and 6 again, ends
    2 iterations later than the uninterrupted run and on another learning
    rate. This loop draws the epoch's batches in the same order (the sampler
    is seeded by the run's seed and the epoch) and skips those already
    trained: they are loaded again, not trained on, and the log says how
    many.

    Its data pipeline is a :class:`SeededCompose`: each sample's
    augmentation is drawn from the run's seed, the epoch and the sample's
    index. mmengine seeds each data-loader worker once, when it starts, so
    persistent workers (the mmdet and mmpretrain datasets' setting) go on
    drawing from the epochs before, which a resumed run's new workers
    cannot replay: its augmentations, and so its weights, would differ. A
    dataset without a pipeline of its own (a dataset wrapper) keeps
    mmengine's seeding, and the run says so when it resumes.
    ``tools/train.py`` uses this loop in place of mmengine's
    ``EpochBasedTrainLoop`` (``train_cfg.type='mmhvit.EpochBasedTrainLoop'``
    for other entry points).
    """

    def __init__(self, runner, dataloader, max_epochs: int, **kwargs):
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        self._sample_seeds = torch.zeros(2, dtype=torch.int64).share_memory_()
        dataset = self.dataloader.dataset
        self.seeds_samples = isinstance(getattr(dataset, 'pipeline', None),
                                        Compose)
        if self.seeds_samples:
            dataset.pipeline = SeededCompose(dataset.pipeline,
                                             self._sample_seeds)

    def run_epoch(self) -> None:
        """Iterate one epoch, from the first batch not yet trained."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        # the seed is read here: mmengine restores a resumed run's seed
        # after the loop is built
        self._sample_seeds.copy_(torch.tensor([self.runner.seed,
                                               self._epoch]))
        done = self._iter - self._epoch * len(self.dataloader)
        batches = enumerate(self.dataloader)
        if done > 0:
            print_log(
                f'Resumed after iteration {self._iter}, in the middle of '
                f'epoch {self._epoch + 1}: its first {done} of '
                f'{len(self.dataloader)} batches were trained before the '
                'run stopped; they are loaded again (the same batches) and '
                'skipped.', logger='current', level=logging.WARNING)
            for _ in range(done):
                next(batches)
        for idx, data_batch in batches:
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
