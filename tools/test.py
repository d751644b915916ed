"""Evaluate a checkpoint of any mmhvit config (mIoU, COCO AP or top-1).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR]
        [--out FILE] [--tta] [--cfg-options KEY=VALUE ...]
        [--launcher pytorch]
"""
import argparse

from mmhvit import compat
from mmhvit.checks import check_data_paths
from mmhvit.engine import (add_runtime_args, build_runner,
                           enable_visualization, load_config,
                           release_process_group)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--show-dir',
        help='write images with the predictions drawn into this dir')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument(
        '--out',
        help='dump the predictions of every test sample to this pickle file')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation with the config's tta_pipeline")
    add_runtime_args(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    compat.apply()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        enable_visualization(cfg, args.show_dir, args.show, args.wait_time)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out:
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = [
            *(evaluators if isinstance(evaluators, list) else [evaluators]),
            dict(type='DumpResults', out_file_path=args.out)
        ]

    check_data_paths(cfg, 'test_dataloader')
    build_runner(cfg).test()
    release_process_group()


if __name__ == '__main__':
    main()
