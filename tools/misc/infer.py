"""Predict images with a trained mmhvit model and write what it sees.

    python tools/misc/infer.py CONFIG CHECKPOINT INPUT [INPUT ...]
        [--out-dir DIR] [--device cpu] [--topk K] [--score-thr T]
        [--max-side PIXELS] [--cfg-options KEY=VALUE ...]

Segmentation (default_scope mmseg), detection (mmdet) and classification
(mmpretrain) configs alike, through the upstream inferencers. For every input
image (INPUT: image files or directories of them) it writes into DIR

* ``<name>.png``: segmentation: the image and the mask overlay side by side
  with a legend of the predicted classes and their pixel shares; detection:
  boxes (and masks) with class names and scores; classification: the top-k
  classes and scores;
* ``<name>.json``: the raw predictions (label map, or boxes / scores / RLE
  masks as mmdet's ``DetInferencer`` gives them, or all class scores) and the
  class names of the checkpoint.

An image whose prediction would not fit into the device's free memory at
full resolution is refused before predicting, naming the ``--max-side``
that fits.
"""
import argparse

import torch

from mmhvit import compat
from mmhvit.apis import (build_inferencer, check_checkpoint, collect_images,
                         infer_image, load_inference_config)
from mmhvit.checks import CfgOptionsAction, SampleError


def parse_args():
    parser = argparse.ArgumentParser(
        description='Predict images with a segmentation, detection or '
        'classification config and checkpoint; write PNGs and JSON.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (or URL)')
    parser.add_argument(
        'inputs', nargs='+', metavar='INPUT',
        help='image files, or directories whose images are all predicted')
    parser.add_argument(
        '--out-dir', default='outputs', help='where PNGs and JSON go')
    parser.add_argument(
        '--device', default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='device to run on')
    parser.add_argument(
        '--topk', type=int, default=5,
        help='classification: how many classes to draw')
    parser.add_argument(
        '--score-thr', type=float, default=0.3,
        help='detection: lowest score of a drawn box (the JSON keeps all)')
    parser.add_argument(
        '--max-side', type=int,
        help='predict images larger than this many pixels (longer side) as '
        'downscaled copies; the outputs are then at that size')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, e.g. model.test_cfg.mode=whole')
    return parser, parser.parse_args()


def main():
    compat.apply()  # reads mmengine checkpoints under torch >= 2.6
    parser, args = parse_args()
    try:
        check_checkpoint(args.checkpoint)
        images = collect_images(args.inputs)
        cfg = load_inference_config(args.config, args.cfg_options)
    except (FileNotFoundError, ValueError, SampleError) as error:
        parser.error(str(error))
    inferencer = build_inferencer(cfg, args.checkpoint, args.device)
    for path in images:
        try:
            written = infer_image(inferencer, path, args.out_dir, args.topk,
                                  args.score_thr, args.max_side)
        except MemoryError as error:
            parser.error(str(error))
        print(f'{path} -> {written["png"]}, {written["json"]}\n'
              f'    {written["summary"]}')


if __name__ == '__main__':
    main()
