"""Evaluate a checkpoint of any mmhvit config (mIoU, COCO AP or top-1).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR]
        [--tta] [--cfg-options KEY=VALUE ...] [--launcher pytorch]
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmhvit  # noqa: F401  (compatibility shims)
from mmhvit.utils import enable_visualization, setup_launcher


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--show-dir',
        help='write images with the predictions drawn into this dir')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation with the config's tta_pipeline")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
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
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        enable_visualization(cfg, args.show_dir, args.show, args.wait_time)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    runner.test()


if __name__ == '__main__':
    main()
