"""Fixes for the frictions between the pinned OpenMMLab releases and torch
that can only be global: :func:`apply` installs them, and ``tools/`` (train,
test, inference, demo) call it explicitly. Importing mmhvit changes nothing
in mmengine; each fix is guarded by the versions it is written for (a newer
mmengine or an older torch is left alone) and tested in
``tests/test_compat.py``. Installed packages are never edited. The run-time
safety that changes behaviour (atomic checkpoints, rotation order, named
errors, exact resume) is not here but in registered hooks and transforms
named by the base configs (``mmhvit.engine.hooks``,
``mmhvit.datasets.transforms``).

1. ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, while
   mmengine 0.10 loads local checkpoints with a bare ``torch.load``. Runner
   checkpoints hold mmengine's training state (``HistoryBuffer``, numpy
   arrays and scalars), so ``--resume`` and ``load_from`` fail with
   ``UnpicklingError``. :func:`load_from_local` replaces mmengine's loader for
   local paths: it allows exactly those types while keeping
   ``weights_only=True``, and only for a file holding anything else falls
   back to a full unpickle, with a warning naming the file. It also names a
   checkpoint that cannot be read (truncated, empty or not a torch file)
   instead of failing inside ``torch.load``. A checkpoint URL that cannot
   be fetched (no network on the cluster's nodes) gets a
   :class:`~mmhvit.utils.DownloadError` naming the path where the
   download is looked for first, instead of a bare ``URLError``.
2. mmengine 0.10 starts every ``pytorch``-launched process with
   ``torch.cuda.set_device``, so ``tools/dist_train.sh`` cannot run on a
   machine without CUDA even with the gloo backend, and its Runner wraps
   every model with ``device_ids=[LOCAL_RANK]``, which DDP refuses for a
   model on the CPU. :func:`init_dist_pytorch` skips the ``set_device`` when
   CUDA is unavailable, and :func:`ddp_init` drops ``device_ids`` for a
   model on the CPU and reverts its SyncBN layers (which torch runs on GPUs
   only) to per-process BN, as mmengine already does for a single process.
3. mmengine's ``BaseDataset`` fails with "need at least one array to
   concatenate", deep inside its serialisation and before any hook runs,
   when it finds no samples (a wrong ``data_prefix`` or file suffix, or
   every image filtered out). :func:`serialize_data` raises a
   ``SampleError`` naming the dataset's paths instead.
4. mmengine's ``LoggerHook`` dumps the test metrics to ``<timestamp>.json``
   from every process of a distributed test (a plain ``dump`` that truncates
   and writes), so two processes writing different timings can leave a
   corrupt file. :func:`apply` makes that dump run on the main process
   only, as the hook's other writes already do.
5. mmseg 1.2's ``SegLocalVisualizer`` draws its class labels with
   ``cv2.rectangle`` into ``np.zeros_like(image)``, which keeps the strides
   of a non-contiguous image; OpenCV 5 refuses such arrays ("Layout of the
   output array img is incompatible with cv::Mat"). mmseg's
   ``browse_dataset`` passes exactly such an image (a permuted tensor), and
   dies on the first sample. :func:`contiguous_image` hands the visualizer a
   contiguous copy.
6. mmengine 0.10 resolves each ``mmseg::``/``mmdet::``/``mmpretrain::``
   base of a config by reloading ``pkg_resources`` and parsing every
   metafile the package's ``model-index.yml`` lists (about 100 YAML files,
   2-3 s), once per reference: a dense config names four or five, so each
   ``Config.fromfile`` spent about 10 s there. :func:`external_cfg_path`
   and :func:`is_installed` give the same answers from what they read once
   per process.
7. Python keeps the "shown once" marks of warnings in each module's
   ``__warningregistry__`` (the ``once`` action too, in CPython's C
   implementation) and clears them whenever the warning filters change:
   at every ``warnings.catch_warnings`` (torch's jit tracing, which
   ``get_flops.py`` and ``model_zoo.py`` run for every model, enters one)
   and every import that adds a filter (``pkg_resources``, which mmengine
   reloaded for every ``mmseg::`` base before fix 6). So mmseg's
   ``build_loss`` and ``avg_non_ignore`` warnings came again with every
   model built in one process (4 times each for 4 models).
   :func:`show_warnings_once` shows each warning (category and text) at
   most once per process, where the filters let it through; :func:`apply`
   installs it whatever the versions.

:func:`upstream_tool` finds the scripts mmseg, mmdet and mmpretrain ship
inside their packages (``<package>/.mim/tools``), which
``tools/analysis_tools`` wrap; :func:`run_upstream_tool` runs one on a
config changed for it.
"""
import functools
import importlib
import logging
import os.path as osp
import pickle
import runpy
import sys
import tempfile
import warnings
from typing import Sequence
from urllib.error import URLError
from urllib.parse import urlparse

import mmengine
import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.config import config as mmengine_config
from mmengine.dataset import BaseDataset
from mmengine.dist import master_only
from mmengine.dist import utils as dist_utils
from mmengine.hooks import logger_hook
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.runner.checkpoint import \
    load_from_http as _mmengine_load_from_http
from mmengine.utils import check_file_exist, digit_version
from mmengine.utils import is_installed as _mmengine_is_installed

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


def load_from_local(filename, map_location=None, mmap=False):
    """Load a local checkpoint, mmengine training state included.

    Args:
        filename (str): Path of the checkpoint.
        map_location (str, optional): As for :func:`torch.load`.
        mmap (bool): Memory-map the tensors instead of reading them (as
            for :func:`torch.load`).

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
        return _torch_load(filename, map_location, mmap=mmap)
    except (EOFError, pickle.UnpicklingError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and 'PytorchStreamReader' not in \
                str(error):
            raise
        raise RuntimeError(
            f'Cannot read checkpoint {filename} ({osp.getsize(filename)} '
            f'bytes): it is truncated, empty or not a torch file '
            f'({type(error).__name__}: {error}).') from error


def checkpoint_meta(filename) -> dict:
    """The ``meta`` of a runner checkpoint (epoch, iter, seed, ...), read
    without loading its tensors (they are memory-mapped, never read)."""
    checkpoint = load_from_local(filename, map_location='cpu', mmap=True)
    return dict(checkpoint.get('meta') or {})


def _torch_load(filename, map_location, **kwargs):
    """``torch.load`` with ``weights_only=True`` and mmengine's training
    state allowed; a full unpickle, with a warning, for anything else."""
    try:
        with torch.serialization.safe_globals(_runner_state_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True,
                **kwargs)
    except pickle.UnpicklingError as error:
        print_log(
            f'{filename} holds objects beyond tensors and mmengine training '
            f'state ({str(error).splitlines()[0]}); loading it with '
            'weights_only=False. Only load checkpoints you trust.',
            logger='current', level=logging.WARNING)
        return torch.load(
            filename, map_location=map_location, weights_only=False,
            **kwargs)


def download_target(url: str, model_dir=None) -> str:
    """Where mmengine's (torch.hub's) download of ``url`` is kept, and
    looked for before downloading."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def load_from_http(filename, map_location=None, model_dir=None, **kwargs):
    """mmengine's loader of checkpoint URLs; a named error offline."""
    try:
        return _mmengine_load_from_http(filename, map_location, model_dir,
                                        **kwargs)
    except URLError as error:
        from .utils import DownloadError
        raise DownloadError(
            f'Cannot download the checkpoint {filename} ({error.reason}). '
            'Without network access, fetch it where there is one and put '
            f'it at {download_target(filename, model_dir)} (where the '
            'download is looked for first; TORCH_HOME moves it), or point '
            'the setting that names the URL (init_cfg.checkpoint, '
            'load_from) to a local copy.') from error


_mmengine_serialize_data = BaseDataset._serialize_data


def serialize_data(self):
    """``BaseDataset._serialize_data``; a named error without samples."""
    if not self.data_list:
        from .checks import SampleError, no_samples
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


def _seg_visualizer():
    """mmseg's ``SegLocalVisualizer`` when mmseg is a 1.2 release."""
    import mmseg
    from mmseg.visualization import SegLocalVisualizer
    if digit_version(mmseg.__version__)[:2] != digit_version('1.2.0')[:2]:
        return None
    return SegLocalVisualizer


def contiguous_image(draw_sem_seg):
    """``SegLocalVisualizer._draw_sem_seg`` on a contiguous image."""
    @functools.wraps(draw_sem_seg)
    def draw(self, image, *args, **kwargs):
        return draw_sem_seg(self, np.ascontiguousarray(image), *args,
                            **kwargs)
    return draw


@functools.lru_cache(maxsize=None)
def metafile_configs(package_path: str) -> dict:
    """Config paths the metafiles of the package at ``package_path`` name,
    by name (``'fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024'``): for each
    name the first row's, as mmengine picks."""
    mim = osp.join(package_path, '.mim')
    configs = {}
    for metafile in mmengine.load(osp.join(mim, 'model-index.yml'))['Import']:
        for model in mmengine.load(osp.join(mim, metafile))['Models']:
            if 'Config' in model:
                configs.setdefault(model['Config'].partition('/')[-1],
                                   model['Config'])
    return configs


def external_cfg_path(package_path: str, cfg_file: str) -> str:
    """mmengine's ``_get_external_cfg_path``: the path of the config a
    package's metafiles name ``cfg_file``; ValueError for any other name
    (mmengine then looks for it under the package's ``.mim/configs``)."""
    name = cfg_file.split('.')[0]
    configs = metafile_configs(package_path)
    if name not in configs:
        raise ValueError(f'No metafile of {package_path} names {name}.')
    path = osp.join(package_path, configs[name])
    check_file_exist(path)
    return path


@functools.lru_cache(maxsize=None)
def is_installed(package: str) -> bool:
    """mmengine's ``is_installed``, asked once per package."""
    return _mmengine_is_installed(package)


def show_warnings_once() -> None:
    """Show each warning (category and text) at most once per process
    (idempotent). Filters still decide what is shown; recording warnings
    (``catch_warnings(record=True)``, ``pytest.warns``) is unaffected."""
    show = warnings.showwarning
    if getattr(show, 'shows_once', False):
        return
    shown = set()

    @functools.wraps(show)
    def show_once(message, category, filename, lineno, file=None,
                  line=None):
        key = (category, str(message))
        if key not in shown:
            shown.add(key)
            show(message, category, filename, lineno, file, line)

    show_once.shows_once = True
    warnings.showwarning = show_once


def upstream_tool(scope: str, path: str) -> str:
    """The path of a script an OpenMMLab package ships.

    Args:
        scope (str): ``'mmseg'``, ``'mmdet'`` or ``'mmpretrain'`` (a
            config's ``default_scope``).
        path (str): The script under the package's ``tools/``, e.g.
            ``'analysis_tools/browse_dataset.py'``.

    Returns:
        str: The script's path.

    Raises:
        FileNotFoundError: the package ships no such script.
    """
    package = importlib.import_module(scope)
    script = osp.join(osp.dirname(package.__file__), '.mim', 'tools', path)
    if not osp.isfile(script):
        raise FileNotFoundError(f'{scope} {package.__version__} ships no '
                                f'tools/{path} ({script})')
    return script


def run_upstream_tool(script: str, cfg: mmengine.Config,
                      args: Sequence[str]) -> None:
    """Run an upstream tool script (:func:`upstream_tool`) as
    ``__main__`` on ``cfg``, a config changed for it: written to a
    temporary file under the original file's name, which comes first in
    the tool's arguments, then ``args``."""
    with tempfile.TemporaryDirectory() as folder:
        path = osp.join(folder, osp.basename(cfg.filename))
        cfg.dump(path)
        sys.argv = [script, path, *args]
        runpy.run_path(script, run_name='__main__')


def apply() -> bool:
    """Install the fixes (idempotent) when mmengine is a 0.10 release;
    the weights-only loader only with torch >= 2.6; each warning once
    whatever the versions.

    Returns:
        bool: Whether the version-bound fixes were installed.
    """
    show_warnings_once()
    version = digit_version(mmengine.__version__)
    if not digit_version('0.10.0') <= version <= digit_version('0.10.7'):
        print_log(
            f'mmhvit.compat is written for mmengine 0.10.0-0.10.7, found '
            f'{mmengine.__version__}: its fixes are not installed.',
            logger='current', level=logging.WARNING)
        return False
    if digit_version(torch.__version__) >= digit_version('2.6.0'):
        CheckpointLoader.register_scheme(prefixes='', force=True)(
            load_from_local)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), force=True)(load_from_http)
    dist_utils._init_dist_pytorch = init_dist_pytorch
    MMDistributedDataParallel.__init__ = ddp_init
    BaseDataset._serialize_data = serialize_data
    if not hasattr(logger_hook.dump, '__wrapped__'):
        logger_hook.dump = master_only(logger_hook.dump)
    mmengine_config._get_external_cfg_path = external_cfg_path
    mmengine_config.is_installed = is_installed
    visualizer = _seg_visualizer()
    if visualizer and not hasattr(visualizer._draw_sem_seg, '__wrapped__'):
        visualizer._draw_sem_seg = contiguous_image(visualizer._draw_sem_seg)
    return True
