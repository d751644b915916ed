"""What ``tools/train.py`` and ``tools/test.py`` share: the common options,
loading the config they name and building the runner."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
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
        cfg.merge_from_dict(args.cfg_options)
    setup_launcher(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """mmengine's Runner, or the config's own ``runner_type``."""
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(
        cfg)


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
