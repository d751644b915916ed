"""`make demo`: train Semantic FPN + HAT-Net-Tiny on a synthetic ADE20K-format
set on the CPU, evaluate it with mmseg's IoUMetric and draw the predictions.

    python tools/misc/demo.py [--config CONFIG] [--work-dir DIR]

Generates the data (once) under ``data/synthetic``, trains through the real
mmengine runner, tests, writes ``<work-dir>/demo_predictions.png`` (input,
ground truth and prediction of validation images) and prints the mIoU. Exits
with status 1 if the mIoU is below ``--min-miou``.
"""
import argparse
import os.path as osp
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmhvit import compat
from mmhvit.datasets import make_ade20k

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'demo',
                  'fpn_hat-net-tiny_1xb8-400_synthetic-ade20k-96x96.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs',
                                                       'demo'))
    parser.add_argument('--data-dir', default=osp.join(ROOT, 'data',
                                                       'synthetic'))
    parser.add_argument('--num-train', type=int, default=400)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--min-miou', type=float, default=60.)
    return parser.parse_args()


def colorize(label, palette):
    """(H, W) class indices (255 = ignore) -> (H, W, 3) BGR."""
    colors = np.concatenate([np.asarray(palette, np.uint8)[:, ::-1],
                             np.zeros((256 - len(palette), 3), np.uint8)])
    return colors[label]


def _header(width, titles, height=24):
    """A white strip with one title centred over each column."""
    strip = np.full((height, width * len(titles), 3), 255, np.uint8)
    for i, title in enumerate(titles):
        cv2.putText(strip, title, (i * width + 6, height - 8),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def draw_predictions(runner, path, num_images=6, zoom=2):
    """Rows of (input, ground truth, prediction) for validation images."""
    palette = runner.test_dataloader.dataset.metainfo['palette']
    rows = []
    runner.model.eval()
    with torch.no_grad():
        for data in runner.test_dataloader:
            for sample in runner.model.test_step(data):
                image = cv2.imread(sample.img_path)
                gt = sample.gt_sem_seg.data[0].numpy().astype(np.uint8)
                pred = sample.pred_sem_seg.data[0].numpy().astype(np.uint8)
                row = np.hstack([image, colorize(gt, palette),
                                 colorize(pred, palette)])
                rows.append(cv2.resize(row, None, fx=zoom, fy=zoom,
                                       interpolation=cv2.INTER_NEAREST))
                if len(rows) == num_images:
                    header = _header(rows[0].shape[1] // 3,
                                     ('input', 'ground truth', 'prediction'))
                    cv2.imwrite(path, np.vstack([header] + rows))
                    return


def main():
    args = parse_args()
    compat.apply()
    start = time.time()
    data_root = osp.join(args.data_dir, 'ADEChallengeData2016')
    if not osp.isdir(data_root):
        make_ade20k(args.data_dir, num_train=args.num_train,
                    num_val=args.num_val, size=(96, 96))
    print(f'Synthetic ADE20K-format data: {data_root} '
          f'({time.time() - start:.0f} s)', flush=True)

    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    figure = osp.join(args.work_dir, 'demo_predictions.png')
    draw_predictions(runner, figure)

    miou = metrics['mIoU']
    print(f'\nDemo finished in {time.time() - start:.0f} s: mIoU {miou:.2f} '
          f'on {args.num_val} synthetic validation images '
          f'(aAcc {metrics["aAcc"]:.2f}). Predictions: {figure}')
    if miou < args.min_miou:
        raise SystemExit(f'mIoU {miou:.2f} is below the expected '
                         f'{args.min_miou}.')


if __name__ == '__main__':
    main()
