"""Evaluate a checkpoint of any mmhvit config (mIoU, COCO AP or top-1).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR]
        [--out PATH] [--dump FILE] [--tta] [--cfg-options KEY=VALUE ...]
        [--launcher pytorch] [--verbose]

Only the test split has to exist: the training data and settings of the
config are dropped. ``--show-dir DIR`` writes every test image with its
predictions drawn as ``tools/misc/infer.py`` draws them (enlarged; masks
with a legend of the classes found, boxes with names and scores;
classification: mmpretrain's drawing). ``--out`` follows the upstream tools:
segmentation writes a label PNG per test image into the directory (mmseg's
``IoUMetric(output_dir=...)``), detection and classification a pickle of
the predictions; ``--dump FILE`` writes that pickle for every task.
``--tta`` tests with the config's ``tta_pipeline`` and ``tta_model``, or,
for detection and classification configs without them, on each image and
its horizontal flip as mmdet's and mmpretrain's ``tools/test.py --tta`` do
(:func:`mmhvit.engine.use_tta`). The
system environment, the full config and the hook order go to the log file
only, unless ``--verbose``.
"""
import argparse

from mmhvit import compat
from mmhvit.checks import check_data_paths
from mmhvit.engine import (add_runtime_args, build_runner,
                           enable_visualization, load_config,
                           release_process_group, use_tta)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--show-dir',
        help='write every test image with its predictions drawn (and a '
        'legend) into this dir, as tools/misc/infer.py draws them')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument(
        '--out',
        help='segmentation: write the predicted label map of every test '
        'image as a PNG into this dir (as mmseg); detection and '
        'classification: dump the predictions to this pickle file')
    parser.add_argument(
        '--dump', help='dump the predictions to this pickle file')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='--show-dir, detection: lowest score of a drawn box')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation with the config's tta_pipeline and "
        'tta_model (detection and classification configs without them: '
        'the image and its horizontal flip, as mmdet and mmpretrain)')
    add_runtime_args(parser)
    return parser.parse_args()


def drop_training(cfg):
    """Test without the training data and settings: mmengine's runner then
    builds no train loop (mmseg's visualization hook asks for the iteration
    count, which would build it and read the training set)."""
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'auto_scale_lr'):
        cfg[key] = None


def draw_predictions(cfg, args):
    """``--show-dir``: segmentation and detection drawn as infer.py draws
    them (mmhvit.DrawPredictionsHook); classification and ``--show`` (a
    window) by the upstream visualization hook."""
    if args.show or cfg.get('default_scope') == 'mmpretrain':
        enable_visualization(cfg, args.show_dir, args.show, args.wait_time)
        return
    cfg.custom_hooks = [
        *cfg.get('custom_hooks', []),
        dict(type='mmhvit.DrawPredictionsHook', out_dir=args.show_dir,
             score_thr=args.score_thr)
    ]


def write_label_maps(cfg, out_dir):
    """mmseg's ``--out``: the metrics write each predicted label map as
    ``out_dir/<image name>.png`` (class indices; + 1 where the dataset
    reduces the zero label, as in its label files)."""
    evaluators = cfg.test_evaluator
    for evaluator in evaluators if isinstance(evaluators, list) else [
            evaluators]:
        evaluator.update(output_dir=out_dir, keep_results=True)


def main():
    args = parse_args()
    compat.apply()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint

    drop_training(cfg)
    if args.show or args.show_dir:
        draw_predictions(cfg, args)

    if args.tta:
        use_tta(cfg)

    if args.out and cfg.get('default_scope') == 'mmseg':
        write_label_maps(cfg, args.out)
    elif args.out:
        args.dump = args.dump or args.out
    if args.dump:
        evaluators = cfg.test_evaluator
        cfg.test_evaluator = [
            *(evaluators if isinstance(evaluators, list) else [evaluators]),
            dict(type='DumpResults', out_file_path=args.dump)
        ]

    check_data_paths(cfg, 'test_dataloader')
    build_runner(cfg, verbose=args.verbose).test()
    release_process_group()


if __name__ == '__main__':
    main()
