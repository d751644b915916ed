"""Stop training at the first non-finite loss, with a checkpoint."""
import logging
from functools import partial

import torch
from mmengine.dist import all_reduce, barrier
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmhvit.registry import HOOKS
from ..checks import unwrap
from .checkpoint_hook import ATOMIC_BACKEND_ARGS


@HOOKS.register_module()
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

    mmdet's ``CheckInvalidLossHook`` only checks every ``interval``
    iterations, after the optimizer has applied the loss, and saves nothing.
    mmhvit's base runtimes (``configs/_base_/runtimes/``) list this hook in
    ``custom_hooks``.
    """
    priority = 'VERY_HIGH'

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
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False,
                               backend_args=ATOMIC_BACKEND_ARGS)
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
