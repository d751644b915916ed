"""Stop training at the first non-finite input or loss (with a checkpoint)."""
import logging
from functools import partial

import torch
from mmengine.dist import all_reduce, barrier
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmhvit.checks import unwrap
from mmhvit.registry import HOOKS
from .checkpoint_hook import ATOMIC_BACKEND_ARGS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first NaN or Inf input or loss, before the
    optimizer applies it.

    A forward pre-hook on the model checks the inputs of every training
    forward pass, as the data preprocessor made them (normalised, padded):
    a non-finite one stops training with a ``FloatingPointError`` naming
    the batch's images and the preprocessor's mean and std, before the
    model runs (a NaN image, or a std of 0 that ``PreflightCheckHook`` did
    not see). A forward hook checks the losses (on all processes together).
    At the first non-finite one, the
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
        self._handles = []

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        self._handles = [
            model.register_forward_pre_hook(
                partial(self._check_inputs, runner), with_kwargs=True),
            model.register_forward_hook(
                partial(self._check, runner), with_kwargs=True)]

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()

    def _check_inputs(self, runner, module, args, kwargs) -> None:
        if kwargs.get('mode') == 'loss' and _nonfinite(
                _tensors(kwargs.get('inputs'))):
            message = _input_message(runner.iter + 1, module,
                                     kwargs.get('data_samples'))
            print_log(message, logger='current', level=logging.ERROR)
            raise FloatingPointError(message)

    def _check(self, runner, module, args, kwargs, losses) -> None:
        if kwargs.get('mode') != 'loss' or not isinstance(losses, dict):
            return
        tensors = {name: _tensors(value) for name, value in losses.items()
                   if 'loss' in name}
        if _nonfinite([t for ts in tensors.values() for t in ts]):
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
        message = (
            f'Non-finite loss at iteration {runner.iter + 1}: '
            f'{bad or "on another process"} (this process\'s images: '
            f'{_images(samples)}). The parameters and optimizer state before '
            f'this iteration are in {runner.work_dir}/{filename}. Lower the '
            'learning rate, clip gradients (optim_wrapper.clip_grad) or '
            'check these images and their labels.')
        print_log(message, logger='current', level=logging.ERROR)
        raise FloatingPointError(message)


def _nonfinite(tensors: list) -> float:
    """The number of NaN / Inf elements of ``tensors`` on all processes
    together (one sync; 0 for no tensors, on every process alike)."""
    if not tensors:
        return 0.
    count = torch.stack([(~torch.isfinite(t)).sum() for t in tensors])
    count = count.sum().float()
    all_reduce(count)
    return count.item()


def _input_message(iteration: int, model, samples) -> str:
    """What a non-finite input batch means, with the preprocessor's
    normalisation."""
    preprocessor = getattr(model, 'data_preprocessor', None)
    settings = ', '.join(
        f'{name}={getattr(preprocessor, name).flatten().tolist()}'
        for name in ('mean', 'std')
        if isinstance(getattr(preprocessor, name, None), torch.Tensor))
    return (f'Non-finite input at iteration {iteration}, before the model '
            'ran: the batch holds NaN or Inf after the data preprocessor '
            f'({type(preprocessor).__name__}'
            f'{": " + settings if settings else ""}); this process\'s '
            f'images: {_images(samples)}. Check these images and '
            'data_preprocessor mean / std (a std of 0 divides by zero).')


def _images(samples) -> list:
    """The image paths of (up to 8) data samples."""
    return [sample.metainfo.get('img_path') for sample in samples or []][:8]


def _tensors(value) -> list:
    """The tensors of a loss entry (mmdet gives lists, one per level)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []
