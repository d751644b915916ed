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
"""
import logging
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
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


def apply():
    """Install the shims (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local)
