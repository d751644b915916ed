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
"""
import logging
import os.path as osp
import pickle

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as dist_utils
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
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
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename} can not be found.')
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
    dist_utils._init_dist_pytorch = init_dist_pytorch
    MMDistributedDataParallel.__init__ = ddp_init
