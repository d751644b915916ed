"""Train any mmhvit config: segmentation (mmseg), detection (mmdet) or
classification (mmpretrain); the config's ``default_scope`` decides which.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher pytorch]
        [--verbose]

A progress line with the ETA follows the first iterations (1, 2, 5, 10,
20) and comes at least every minute (``mmhvit.engine.hooks.ProgressHook``).
The system environment, the full config and the hook order go to the log
file (``<work_dir>/<timestamp>/<timestamp>.log``) only, unless
``--verbose``.
"""
import argparse

import torch
from mmengine.logging import print_log

from mmhvit import compat
from mmhvit.checks import check_checkpoint_paths, check_data_paths
from mmhvit.engine import (add_runtime_args, build_runner, latest_checkpoint,
                           load_config, release_process_group)
from mmhvit.engine.hooks import ProgressHook, lock_work_dir


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint (a directory: its newest), '
        'or, without a value, from the latest complete checkpoint in the '
        'work dir')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual total batch size over the '
        "config's auto_scale_lr.base_batch_size")
    add_runtime_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    compat.apply()
    cfg = load_config(args)

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a GPU: mmengine\'s AmpOptimWrapper '
                             'does not run on the CPU.')
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP is already enabled in the config.',
                      logger='current')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if not (cfg.get('auto_scale_lr') or {}).get('base_batch_size'):
            raise RuntimeError(
                f'{args.config} has no auto_scale_lr.base_batch_size, so '
                '--auto-scale-lr cannot know the batch size its lr is for.')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.load_from = latest_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
        if not cfg.resume:
            print_log(f'No checkpoint in {cfg.work_dir} to resume from: '
                      'training starts from scratch.', logger='current')
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    if cfg.launcher == 'none':  # before the runner writes its config and log
        lock_work_dir(cfg.work_dir)  # (WorkDirLockHook: distributed runs)
    check_data_paths(cfg, 'train_dataloader', 'val_dataloader')
    if not cfg.get('resume') and not cfg.get('load_from'):
        check_checkpoint_paths(cfg)
    runner = build_runner(cfg, verbose=args.verbose)
    runner.register_hook(ProgressHook())
    runner.train()
    release_process_group()


if __name__ == '__main__':
    main()
