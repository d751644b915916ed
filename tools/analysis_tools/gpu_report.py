"""GPU report: training and inference images/s and peak memory of
backbones at the papers' training settings (ADE20K 512x512 x 2, Cityscapes
768x768 x 1, COCO 1333x800 x 2, ImageNet 224x224 x 128 per GPU), in
float16 / bfloat16 autocast and float32, with and without ``with_cp``, side
by side with the upstream peers, and the attention kernel of every call.

    python tools/analysis_tools/gpu_report.py [MODEL ...] [--peers]
        [--external NAME=FILE:FACTORY ...] [--settings ade20k coco ...]
        [--precisions float16 bfloat16 float32] [--budget SECONDS]
        [--warmup 2] [--repeat 5] [--device cuda|cpu] [--tiny]
        [--out-dir work_dirs/gpu_report]

MODELs are names of ``benchmark.py --list`` or config files (their
backbone); without any, every named backbone (mmhvit's and the peers).
``--peers`` adds the upstream backbones (mmdet PVT / PVTv2, mmpretrain
Swin, mmseg ViT-B/L) to the models named. ``--budget`` stops measuring
after that many seconds, most important cells first (see
``mmhvit/analysis/gpu_report.py``). ``--device cpu --tiny`` is the CPU
mode: settings shrunk to a 64-pixel side and batch 2, for checking the
tool end to end. Writes ``gpu_report.md`` and ``gpu_report.json`` to
``--out-dir``.
"""
import argparse

import torch

import mmhvit  # noqa: F401
from mmhvit.analysis.benchmark import (BACKBONES, check_names, is_peer,
                                       load_external)
from mmhvit.analysis.gpu_report import (PRECISIONS, SETTINGS, run_report,
                                        write_report)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('models', nargs='*')
    parser.add_argument('--peers', action='store_true')
    parser.add_argument('--external', nargs='+', default=[],
                        metavar='NAME=FILE:FACTORY',
                        help='models built by FACTORY() from FILE')
    parser.add_argument('--settings', nargs='+', choices=list(SETTINGS),
                        default=list(SETTINGS))
    parser.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                        default=list(PRECISIONS),
                        help='the first is measured first')
    parser.add_argument('--budget', type=float,
                        help='seconds; later cells are left out')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--tiny', action='store_true',
                        help='settings shrunk to a 64-pixel side, batch 2')
    parser.add_argument('--out-dir', default='work_dirs/gpu_report')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('CUDA is not available; for a check of the tool '
                         'on the CPU pass --device cpu --tiny.')
    names = list(args.models) or list(BACKBONES)
    if args.peers:
        names += [n for n in BACKBONES if is_peer(n) and n not in names]
    check_names(names)
    models = {name: name for name in names}
    models.update(map(load_external, args.external))
    report = run_report(models, args.settings, args.precisions,
                        args.device, args.tiny, args.warmup, args.repeat,
                        args.budget)
    for path in write_report(report, args.out_dir):
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
