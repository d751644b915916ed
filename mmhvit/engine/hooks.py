"""Hooks that stop a run early, and loudly, when something is wrong.

``mmhvit.utils.build_runner`` (used by ``tools/train.py`` and
``tools/test.py``) registers both; with your own runner, call
``runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')`` and the same for
:class:`NonFiniteLossHook`.
"""
import logging
from functools import partial

import torch
from mmengine.dist import all_reduce, barrier
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..datasets.validation import check_dataset, guard_dataset
from ..models.utils.checkpoint import (check_pretrained, share_of_checkpoint,
                                       snapshot_pretrained)
from .checks import (check_checkpointing_under_ddp, check_num_classes,
                     install_forward_checks, unwrap)


class PreflightCheckHook(Hook):
    """Checks a run before its first iteration (training) or sample
    (testing) and names what is wrong.

    Before training: the train and val datasets have samples and valid
    COCO annotations, their pipelines name the files of failing samples and
    check segmentation labels, the heads agree with the train dataset on
    ``num_classes``, upstream ``with_cp`` blocks are not combined with
    ``find_unused_parameters`` under DDP, and every ``Pretrained`` module
    received at least ``min_loaded_ratio`` of its parameters (unless the
    run resumes or loads a checkpoint). Before testing: the same for the
    test dataset, and the tested checkpoint must cover
    ``min_checkpoint_ratio`` of the model. Both install the forward checks
    of channels and input sizes (:func:`install_forward_checks`).

    Args:
        min_checkpoint_ratio (float): Share of the model's parameters the
            tested checkpoint must hold.
    """

    def __init__(self, min_checkpoint_ratio: float = 0.9):
        self.min_checkpoint_ratio = min_checkpoint_ratio
        self._handles = []
        self._before_init = {}

    def before_run(self, runner) -> None:
        """Fingerprint ``Pretrained`` modules before the runner initialises
        the weights (training calls ``init_weights()`` after this)."""
        self._before_init = snapshot_pretrained(unwrap(runner.model))

    def before_train(self, runner) -> None:
        self._check_data(runner.train_dataloader.dataset, 'train')
        if runner.val_loop is not None:
            self._check_data(runner.val_dataloader.dataset, 'val')
        check_num_classes(runner.model, runner.train_dataloader.dataset)
        check_checkpointing_under_ddp(runner.model)
        if not (runner.cfg.get('resume') or runner.cfg.get('load_from')):
            check_pretrained(unwrap(runner.model), self._before_init)
        self._install(runner)

    def before_test(self, runner) -> None:
        dataset = runner.test_dataloader.dataset
        self._check_data(dataset, 'test')
        check_num_classes(runner.model, dataset, 'test')
        checkpoint = runner.cfg.get('load_from')
        if checkpoint:
            self._check_checkpoint(runner.model, checkpoint)
        self._install(runner)

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @staticmethod
    def _check_data(dataset, role: str) -> None:
        check_dataset(dataset, role)
        guard_dataset(dataset)

    def _check_checkpoint(self, model, checkpoint: str) -> None:
        share = share_of_checkpoint(unwrap(model), checkpoint)
        if share < self.min_checkpoint_ratio:
            raise RuntimeError(
                f'Only {share:.1%} of the parameters of the model hold values '
                f'of {checkpoint}: it is a checkpoint of another model or '
                'config, and the test would score an untrained network.')

    def _install(self, runner) -> None:
        if not self._handles:
            self._handles = install_forward_checks(runner.model)


class NonFiniteLossHook(Hook):
    """Stop training at the first NaN or Inf loss, before the optimizer
    applies it.

    A forward hook on the model checks the losses of every training forward
    pass (on all processes together). At the first non-finite one, the
    parameters and optimizer state before this iteration's update are saved
    to ``nonfinite_loss_iter_<i>.pth`` in the work dir, and training stops
    with a ``FloatingPointError`` naming the iteration, the losses and the
    images of the batch. ``last_checkpoint`` is left alone, so ``--resume``
    continues from the last regular checkpoint; resuming from the saved
    file instead skips the offending batch.
    """

    def __init__(self):
        self._handle = None

    def before_train(self, runner) -> None:
        self._handle = unwrap(runner.model).register_forward_hook(
            partial(self._check, runner), with_kwargs=True)

    def after_train(self, runner) -> None:
        self._handle.remove()

    def _check(self, runner, module, args, kwargs, losses) -> None:
        if kwargs.get('mode') != 'loss' or not isinstance(losses, dict):
            return
        tensors = {name: _tensors(value) for name, value in losses.items()
                   if 'loss' in name}
        flags = [(~torch.isfinite(t)).sum() for ts in tensors.values()
                 for t in ts]
        if not flags:
            return
        count = torch.stack(flags).sum().float()
        all_reduce(count)  # one sync per iteration; all processes stop
        if count.item():
            self._stop(runner, tensors, kwargs.get('data_samples') or [])

    @staticmethod
    def _stop(runner, tensors: dict, samples: list) -> None:
        """Save the state before this iteration's update and raise."""
        bad = {name: [t.detach().float().mean().item() for t in ts]
               for name, ts in tensors.items()
               if not all(torch.isfinite(t).all() for t in ts)}
        filename = f'nonfinite_loss_iter_{runner.iter + 1}.pth'
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False)
        barrier()  # let the first process finish writing before anyone exits
        images = [sample.metainfo.get('img_path') for sample in samples]
        message = (
            f'Non-finite loss at iteration {runner.iter + 1}: '
            f'{bad or "on another process"} (this process\'s images: '
            f'{images[:8]}). The parameters and optimizer state before this '
            f'iteration are in {runner.work_dir}/{filename}. Lower the '
            'learning rate, clip gradients (optim_wrapper.clip_grad) or '
            'check these images and their labels.')
        print_log(message, logger='current', level=logging.ERROR)
        raise FloatingPointError(message)


def _tensors(value) -> list:
    """The tensors of a loss entry (mmdet gives lists, one per level)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []
