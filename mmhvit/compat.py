"""Shims for the frictions between the pinned OpenMMLab releases and torch.

Imported (and applied) by ``import mmhvit``; each shim is small, documented
and tested in ``tests/test_compat.py``. Installed packages are never edited.

1. ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, while
   mmengine 0.10.7 loads local checkpoints with a bare ``torch.load``. Runner
   checkpoints hold mmengine's training state (``HistoryBuffer``, numpy
   arrays and scalars), so ``--resume`` and ``load_from`` fail with
   ``UnpicklingError``. :func:`load_from_local` replaces mmengine's loader for
   local paths: it allows exactly those types while keeping
   ``weights_only=True``, and only for a file holding anything else falls
   back to a full unpickle, with a warning naming the file.
2. mmengine 0.10.7 starts every ``pytorch``-launched process with
   ``torch.cuda.set_device``, so ``tools/dist_train.sh`` cannot run on a
   machine without CUDA even with the gloo backend, and its Runner wraps
   every model with ``device_ids=[LOCAL_RANK]``, which DDP refuses for a
   model on the CPU. :func:`init_dist_pytorch` skips the ``set_device`` when
   CUDA is unavailable, and :func:`ddp_init` drops ``device_ids`` for a
   model on the CPU and reverts its SyncBN layers (which torch runs on GPUs
   only) to per-process BN, as mmengine already does for a single process.
3. mmengine writes checkpoints in place, so a job killed while saving leaves
   a truncated ``iter_N.pth`` (and, when ``iter_N.pth`` already existed,
   destroys the good copy). :func:`save_checkpoint_atomically` wraps
   mmengine's ``save_checkpoint``: local files are written to a hidden
   temporary file next to the target, flushed to disk and renamed over it,
   so a checkpoint is either complete or absent. mmengine's
   ``CheckpointHook`` writes ``last_checkpoint`` only after the save
   returns, so it never names a partial file. Patching the function (in
   ``mmengine.runner.checkpoint`` and where ``Runner`` imported it) rather
   than subclassing ``CheckpointHook`` covers every writer: the hook, its
   best-checkpoint saves and ``Runner.save_checkpoint`` called by any hook.
   :func:`load_from_local` names a checkpoint that cannot be read
   (truncated, empty or not a torch file) instead of failing inside
   ``torch.load``.
4. mmengine's ``BaseDataset`` fails with "need at least one array to
   concatenate", deep inside its serialisation, when it finds no samples (a
   wrong ``data_prefix`` or file suffix, or every image filtered out).
   :func:`serialize_data` raises a ``SampleError`` naming the dataset's
   paths instead.
5. mmengine's ``LoggerHook`` dumps the test metrics to
   ``<timestamp>.json`` from every process of a distributed test (a plain
   ``dump`` that truncates and writes), so two processes writing different
   timings can leave a corrupt file. :func:`apply` makes that dump run on
   the main process only, as the hook's other writes already do.
6. mmengine's ``CheckpointHook`` deletes the oldest kept checkpoint *before*
   writing the new one, so with ``max_keep_ckpts=1`` a job killed while
   saving leaves no checkpoint to resume from. :func:`save_then_rotate`
   deletes it only after the new checkpoint is complete (a kill in between
   leaves one extra file, never none).
"""
import logging
import os
import os.path as osp
import pickle

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.dataset import BaseDataset
from mmengine.dist import is_main_process, master_only
from mmengine.dist import utils as dist_utils
from mmengine.hooks import CheckpointHook, logger_hook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner import runner as mmengine_runner
from mmengine.runner.checkpoint import CheckpointLoader

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar


def _runner_state_globals():
    """Non-tensor globals pickled in mmengine Runner checkpoints.

    ``HistoryBuffer`` stores its statistics methods, pickled as
    ``getattr(HistoryBuffer, 'mean')``; numpy arrays and scalars come with
    their reconstructors and dtypes.
    """
    numpy_types = [np.ndarray, np.dtype, _reconstruct, scalar]
    numpy_types += [type(np.dtype(name)) for name in (
        'float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
        'uint8', 'bool')]
    return [HistoryBuffer, getattr, *numpy_types]


def load_from_local(filename, map_location=None):
    """Load a local checkpoint, mmengine training state included.

    Args:
        filename (str): Path of the checkpoint.
        map_location (str, optional): As for :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: naming a missing file.
        RuntimeError: naming a file that is truncated, empty or not a
            torch checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename} can not be found.')
    try:
        return _torch_load(filename, map_location)
    except (EOFError, pickle.UnpicklingError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and 'PytorchStreamReader' not in \
                str(error):
            raise
        raise RuntimeError(
            f'Cannot read checkpoint {filename} ({osp.getsize(filename)} '
            f'bytes): it is truncated, empty or not a torch file '
            f'({type(error).__name__}: {error}).') from error


def _torch_load(filename, map_location):
    """``torch.load`` with ``weights_only=True`` and mmengine's training
    state allowed; a full unpickle, with a warning, for anything else."""
    try:
        with torch.serialization.safe_globals(_runner_state_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        print_log(
            f'{filename} holds objects beyond tensors and mmengine training '
            f'state ({str(error).splitlines()[0]}); loading it with '
            'weights_only=False. Only load checkpoints you trust.',
            logger='current', level=logging.WARNING)
        return torch.load(
            filename, map_location=map_location, weights_only=False)


_mmengine_save_checkpoint = mmengine_checkpoint.save_checkpoint


def save_checkpoint_atomically(checkpoint, filename, file_client_args=None,
                               backend_args=None):
    """mmengine's ``save_checkpoint``; a local file appears complete or not
    at all (written to ``.<name>.tmp`` beside it, synced, then renamed).
    Other storage backends are left to mmengine."""
    if file_client_args or backend_args or '://' in filename:
        return _mmengine_save_checkpoint(checkpoint, filename,
                                         file_client_args, backend_args)
    directory, name = osp.split(filename)
    partial = osp.join(directory, f'.{name}.tmp')
    _mmengine_save_checkpoint(checkpoint, partial)
    descriptor = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(partial, filename)


_mmengine_save_with_step = CheckpointHook._save_checkpoint_with_step


def save_then_rotate(self, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step``; the checkpoint that
    falls out of ``max_keep_ckpts`` is deleted after the new one is saved."""
    stale = None
    if self.max_keep_ckpts > 0:  # (keep_ckpt_ids exists only then)
        kept = self.keep_ckpt_ids
        if len(kept) == self.max_keep_ckpts and kept[-1] != step:
            stale = kept.popleft()  # mmengine finds room, deletes nothing
    _mmengine_save_with_step(self, runner, step, meta)
    if stale is None or not is_main_process():
        return
    path = self.file_backend.join_path(self.out_dir,
                                       self.filename_tmpl.format(stale))
    if self.file_backend.isfile(path):
        self.file_backend.remove(path)
    elif self.file_backend.isdir(path):  # DeepSpeed saves directories
        self.file_backend.rmtree(path)


_mmengine_serialize_data = BaseDataset._serialize_data


def serialize_data(self):
    """``BaseDataset._serialize_data``; a named error without samples."""
    if not self.data_list:
        from .datasets.validation import SampleError, no_samples
        raise SampleError(no_samples(self))
    return _mmengine_serialize_data(self)


_mmengine_init_dist_pytorch = dist_utils._init_dist_pytorch


def init_dist_pytorch(backend='nccl', init_backend='torch', **kwargs):
    """mmengine's initialisation of a torchrun process, CPU-only included."""
    if torch.cuda.is_available() or init_backend != 'torch':
        return _mmengine_init_dist_pytorch(backend, init_backend, **kwargs)
    torch_dist.init_process_group(backend=backend, **kwargs)


_mmengine_ddp_init = MMDistributedDataParallel.__init__


def ddp_init(self, module, **kwargs):
    """``MMDistributedDataParallel.__init__``, CPU modules included."""
    if next(module.parameters()).device.type == 'cpu':
        kwargs.pop('device_ids', None)
        kwargs.pop('output_device', None)
        module = revert_sync_batchnorm(module)
    _mmengine_ddp_init(self, module, **kwargs)


def apply():
    """Install the shims (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
    mmengine_checkpoint.save_checkpoint = save_checkpoint_atomically
    mmengine_runner.save_checkpoint = save_checkpoint_atomically
    CheckpointHook._save_checkpoint_with_step = save_then_rotate
    dist_utils._init_dist_pytorch = init_dist_pytorch
    MMDistributedDataParallel.__init__ = ddp_init
    BaseDataset._serialize_data = serialize_data
    if not hasattr(logger_hook.dump, '__wrapped__'):
        logger_hook.dump = master_only(logger_hook.dump)
