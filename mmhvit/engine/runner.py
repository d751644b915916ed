"""What ``tools/train.py`` and ``tools/test.py`` share: the common options,
loading the config they name and building the runner (with mmhvit's safety
hooks for configs that do not name them), and ``mmhvit.ResumableRunner``, the
runner of mmhvit's base runtimes."""
import argparse
import copy
import logging
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmhvit.checks import (CfgOptionsAction, check_tta, merge_cfg_options,
                           resume_target)
from mmhvit.compat import checkpoint_meta
from mmhvit.registry import RUNNERS as MMHVIT_RUNNERS


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher``, ``--verbose``,
    ``--local-rank``."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--verbose', action='store_true',
        help='print the system environment, the full config and the hook '
        'order on the screen too (without it: only into the log file)')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with the runtime options applied.

    The work dir defaults to ``./work_dirs/<config name>``.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    setup_launcher(cfg)
    use_torch_syncbn_on_one_process(cfg)
    if cfg.get('randomness', {}).get('deterministic'):
        # cuBLAS reads it when first used; without it, deterministic mode
        # fails in every CUDA matmul
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


#: Hooks of mmhvit's base runtimes (``configs/_base_/runtimes/``).
SAFETY_HOOKS = ('WorkDirLockHook', 'PreflightCheckHook', 'NonFiniteLossHook',
                'IterationSeedHook', 'PreemptionHook')


def build_runner(cfg: Config, verbose: bool = True) -> Runner:
    """The config's ``runner_type`` (mmhvit's base runtimes:
    :class:`ResumableRunner`; a config without one gets it too), with the
    safety hooks of :data:`SAFETY_HOOKS` added to a config that does not
    list them (one that does not inherit mmhvit's base runtimes).

    Not ``verbose``, the runner writes the system environment, the full
    config and the hook order (some 570 lines) to its log file only, and
    the screen gets one line naming that file."""
    add_safety_hooks(cfg)
    runner_class = RUNNERS.get(cfg.runner_type) if 'runner_type' in cfg \
        else ResumableRunner
    if verbose:
        runner = runner_class.from_cfg(cfg)
    else:
        runner = type(runner_class.__name__, (FileOnlyStart, runner_class),
                      {}).from_cfg(cfg)
        log_files = [handler.baseFilename
                     for handler in runner.logger.handlers
                     if isinstance(handler, logging.FileHandler)]
        print_log('Environment, full config and hook order: '
                  f'{", ".join(log_files) or "(no log file)"} '
                  '(--verbose: on the screen too)', logger='current')
    warn_only_determinism_on_cuda()
    return runner


class FileOnly(logging.Filter):
    """Drops, on the handler it filters, the environment, config and hook
    order that mmengine's Runner logs at its start."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.lstrip('\n-').startswith('System environment:')
                    or message.startswith(
                        ('Config:\n', 'Hooks will be executed in the '
                         'following order')))


class FileOnlyStart:
    """Mixin of a Runner class whose console handlers leave out what
    :class:`FileOnly` drops; its log file keeps everything."""

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler) and not any(
                    isinstance(f, FileOnly) for f in handler.filters):
                handler.addFilter(FileOnly())
        return logger


def add_safety_hooks(cfg: Config) -> None:
    """Append the hooks of :data:`SAFETY_HOOKS` missing from
    ``cfg.custom_hooks``."""
    hooks = list(cfg.get('custom_hooks') or [])
    listed = {str(hook.get('type', '')).split('.')[-1] for hook in hooks
              if isinstance(hook, dict)}
    missing = [name for name in SAFETY_HOOKS if name not in listed]
    if missing:
        cfg.custom_hooks = hooks + [dict(type=f'mmhvit.{name}')
                                    for name in missing]
        print_log(f'Added mmhvit.{", mmhvit.".join(missing)} to custom_hooks '
                  "(the config does not inherit mmhvit's base runtimes).",
                  logger='current')


@MMHVIT_RUNNERS.register_module()
class ResumableRunner(Runner):
    """mmengine's ``Runner``, built so that a resumed run continues as the
    uninterrupted one: a resumed run takes the seed it recorded
    (:func:`resume_with_its_seed`) and epoch-based training runs
    ``mmhvit.EpochBasedTrainLoop`` (:func:`use_resumable_epoch_loop`). The
    one place that prepares a config for exact resume.

    mmhvit's base runtimes (``configs/_base_/runtimes/safety_hooks.py``) set
    ``runner_type='mmhvit.ResumableRunner'``, so the entry points that build
    the runner with ``RUNNERS.build(cfg)`` get it too: ``tools/train.py``,
    ``mim train``, and mmseg's, mmdet's and mmpretrain's ``tools/train.py``
    (``--resume`` included); ``tools/train.py`` builds it for a config
    without ``runner_type`` as well. mmengine's ``Runner.from_cfg(cfg)``
    ignores ``runner_type``: call ``RUNNERS.build(cfg)`` instead, or
    ``ResumableRunner.from_cfg(cfg)``.
    """

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        cfg = copy.deepcopy(cfg)
        use_resumable_epoch_loop(cfg)
        resume_with_its_seed(cfg)
        return super().from_cfg(cfg)


def use_resumable_epoch_loop(cfg: Config) -> None:
    """Train an epoch-based config with ``mmhvit.EpochBasedTrainLoop``,
    which continues a run resumed in the middle of an epoch (a SIGTERM
    checkpoint) at the iteration it stopped; mmengine's loop repeats the
    epoch's first iterations."""
    train_cfg = cfg.get('train_cfg')
    if not train_cfg:
        return
    if train_cfg.get('type') == 'EpochBasedTrainLoop' or (
            'type' not in train_cfg and train_cfg.get('by_epoch')):
        train_cfg.pop('by_epoch', None)
        train_cfg['type'] = 'mmhvit.EpochBasedTrainLoop'
        print_log("train_cfg.type='mmhvit.EpochBasedTrainLoop' in place of "
                  "mmengine's EpochBasedTrainLoop: it seeds every sample and "
                  'resumes in the middle of an epoch at the iteration it '
                  'stopped.', logger='current')


def resume_with_its_seed(cfg: Config) -> None:
    """Set ``randomness.seed`` of a resumed run to the seed recorded in the
    checkpoint it resumes from (mmengine's meta ``seed``: the one the run
    set or drew), before the runner is built.

    mmengine draws a new seed for a config without one when the runner is
    built, and builds the data sampler and the data workers' seeds from it
    before it loads the checkpoint and restores the recorded seed; a resumed
    run then trains on other batches than the run it continues. With the
    recorded seed set first, it continues exactly (the paper configs set no
    seed). A config whose seed differs from the recorded one gets the
    recorded one too, as mmengine gives it when resuming, with a warning.
    """
    if not cfg.get('resume'):
        return
    path = resume_target(cfg.get('load_from'), cfg.work_dir)
    if not path or not osp.isfile(path):
        return
    recorded = checkpoint_meta(path).get('seed')
    randomness = cfg.get('randomness') or {}
    configured = randomness.get('seed')
    if recorded is None or recorded == configured:
        return
    cfg.randomness = dict(randomness, seed=recorded)
    if configured is None:
        print_log(f'Resuming from {path}: using the seed {recorded} that the '
                  'run drew and recorded there (the config sets none), set '
                  'before the data sampler, the data workers and the model '
                  'are built, so the run continues as it would have without '
                  'the interruption.', logger='current')
    else:
        print_log(f'Resuming from {path}: using the seed {recorded} recorded '
                  f'there, not the config\'s randomness.seed={configured}.',
                  logger='current', level=logging.WARNING)


def release_process_group() -> None:
    """Destroy the distributed process group, if any, at the end of a
    finished run. Left to interpreter shutdown, gloo's worker threads can
    still hold work while Python tears down, which aborts the process
    ("terminate called without an active exception", SIGABRT) after a run
    that succeeded; torch's documentation asks every process to call
    ``destroy_process_group`` once communication is over."""
    if torch.distributed.is_available() and \
            torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def warn_only_determinism_on_cuda() -> None:
    """With ``randomness.deterministic=True`` mmengine enables torch's
    deterministic algorithms strictly, and on CUDA torch then raises for
    the kernels that have no deterministic version: the backward of
    bilinear upsampling (every mmseg decode head) and of adaptive average
    pooling, and NLL loss. Keep the deterministic kernels, and make those
    warn (naming the op) instead of stopping the run. CPU runs stay strict.
    """
    if torch.cuda.is_available() and \
            torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(True, warn_only=True)


def use_torch_syncbn_on_one_process(cfg: Config) -> None:
    """Replace mmcv's ``MMSyncBN``, which cannot even be built without a
    process group, by torch's ``SyncBN`` in a non-distributed run; mmengine
    then reverts it to BN as it does for every single-process run."""
    if cfg.get('launcher', 'none') != 'none':
        return
    replaced = _replace_type(cfg.get('model'), 'MMSyncBN', 'SyncBN')
    if replaced:
        print_log(f'Single process: {replaced} MMSyncBN layers built as '
                  'SyncBN, which mmengine reverts to BN.', logger='current')


def _replace_type(node, old: str, new: str) -> int:
    if isinstance(node, dict):
        count = int(node.get('type') == old)
        if count:
            node['type'] = new
        return count + sum(_replace_type(v, old, new) for v in node.values())
    if isinstance(node, (list, tuple)):
        return sum(_replace_type(v, old, new) for v in node)
    return 0


def setup_launcher(cfg: Config) -> None:
    """Use the gloo backend for a distributed run on a machine without CUDA.

    Upstream runtimes set ``nccl``, which needs GPUs; with gloo the same
    ``tools/dist_train.sh`` runs on CPU processes.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
        print_log('No CUDA device: distributed backend set to gloo.',
                  logger='current')


def enable_visualization(cfg: Config, show_dir=None, show=False,
                         wait_time=2.) -> None:
    """Switch on the upstream visualization hook of the config's scope.

    mmseg, mmdet and mmpretrain name the same switches differently; this
    makes ``--show-dir`` mean "write every test image with its predictions
    into this dir" for all three.
    """
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise KeyError('The config has no default_hooks.visualization, so '
                       'predictions cannot be drawn.')
    hook = hooks['visualization']
    scope = cfg.get('default_scope')
    hook.update(show=show, wait_time=wait_time, interval=1)
    if scope == 'mmpretrain':
        hook.update(enable=True, out_dir=show_dir)
    elif scope == 'mmdet':
        hook.update(draw=True, test_out_dir=show_dir)
    elif scope == 'mmseg':
        hook.update(draw=True)
        if show_dir:
            cfg.visualizer['save_dir'] = show_dir
    else:
        raise ValueError(f'Cannot enable visualization for default_scope '
                         f'{scope!r}; expected mmseg, mmdet or mmpretrain.')


#: ``tta_model`` of a config without one, as mmseg's default runtime and
#: mmdet's and mmpretrain's ``tools/test.py --tta`` set it.
DEFAULT_TTA_MODELS = dict(
    mmseg=dict(type='SegTTAModel'),
    mmdet=dict(
        type='DetTTAModel',
        tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                     max_per_img=100)),
    mmpretrain=dict(type='mmpretrain.AverageClsScoreTTA'))
#: The meta keys mmdet's ``tools/test.py --tta`` packs: ``DetTTAModel``
#: flips the boxes of a flipped image back by ``flip`` / ``flip_direction``.
FLIP_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                  'scale_factor', 'flip', 'flip_direction')


def use_tta(cfg: Config) -> None:
    """``--tta``: the config's ``tta_model`` wraps its model and its
    ``tta_pipeline`` feeds the test set. A detection or classification
    config without them is tested as mmdet's and mmpretrain's ``tools/test.py
    --tta`` test it: on the image and its horizontal flip, boxes merged by
    NMS, class scores averaged (:data:`DEFAULT_TTA_MODELS`). Configs it
    cannot run are refused before anything is built
    (:func:`~mmhvit.checks.check_tta`)."""
    check_tta(cfg)
    scope = cfg.get('default_scope')
    if not cfg.get('tta_pipeline'):
        pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        pack = pipeline[-1]
        if scope == 'mmdet':
            pack = dict(pack, meta_keys=FLIP_META_KEYS)
        flips = [dict(type='RandomFlip', prob=1.),
                 dict(type='RandomFlip', prob=0.)]
        cfg.tta_pipeline = pipeline[:-1] + [
            dict(type='TestTimeAug', transforms=[flips, [pack]])]
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = dict(cfg.get('tta_model') or DEFAULT_TTA_MODELS[scope],
                     module=cfg.model)
