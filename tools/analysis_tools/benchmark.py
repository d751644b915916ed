"""Latency, throughput and peak memory of backbones or whole models, side
by side in one run, with ratios to a reference, a resolution sweep and the
fraction of the machine's matmul rate each model reaches.

    python tools/analysis_tools/benchmark.py MODEL [MODEL ...] [--peers]
        [--shape 224 224] [--batch 1] [--mode forward|train]
        [--sweep 224 320 448 512] [--repeat 20] [--warmup 3]
        [--device cpu|cuda] [--whole] [--external NAME=FILE:FACTORY ...]

A MODEL is a config file (its backbone, or with ``--whole`` its whole
network) or a name of :data:`BACKBONES` (``--list`` prints them), e.g.
``hat_net-tiny hlg-tiny clustr-tiny pvt-tiny-hafa``. ``--peers`` adds the
upstream backbones users compare with: mmdet's PVT-T and PVTv2-B1,
mmpretrain's Swin-T and mmseg's ViT-B/16. ``--external NAME=FILE:FACTORY``
adds a model built by ``FACTORY()`` from a Python file outside mmhvit, e.g.
a local copy of an official implementation, so that it runs beside ours.
Models take turns round by round so that machine load affects all alike;
medians are reported. The first model is the reference of the ratios.

Columns: median latency, throughput (images/s), peak memory above the
model's own (CUDA: allocator peak; ``-`` on the CPU, whose resident-set peak
misses memory the allocator reuses: ``training_memory.py`` beside this file
counts what a training step keeps), MACs and the fraction of the matmul
rate measured by a plain ``(n x n) @ (n x n)`` probe on the same device.
With ``--sweep`` each model also runs at every size and the exponent ``k``
of ``latency ~ pixels^k`` is fitted (least squares in log-log): 1 is linear
in the pixel count, 2 quadratic. The model list and
the timing live in :mod:`mmhvit.analysis.benchmark`; training throughput and
memory at the papers' settings, on CUDA: ``gpu_report.py`` beside this file.
"""
import argparse
import os.path as osp

import torch

import mmhvit  # noqa: F401
from mmhvit.analysis import measure
from mmhvit.analysis.benchmark import (BACKBONES, PEERS, build, check_names,
                                       fit_exponent, latencies, load_external,
                                       matmul_rate, step)
from mmhvit.analysis.flops import count_macs


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('models', nargs='*')
    parser.add_argument('--list', action='store_true')
    parser.add_argument('--peers', action='store_true')
    parser.add_argument('--external', nargs='+', default=[],
                        metavar='NAME=FILE:FACTORY',
                        help='models built by FACTORY() from FILE')
    parser.add_argument('--whole', action='store_true',
                        help='whole networks of configs, not backbones')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224])
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--mode', choices=('forward', 'train'),
                        default='forward')
    parser.add_argument('--sweep', type=int, nargs='+', metavar='SIZE')
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    return parser.parse_args()


def report(names, models, args, device):
    shape = tuple(args.shape)
    inputs = torch.rand(args.batch, 3, *shape, device=device)
    seconds = latencies(models, inputs, args.mode, args.warmup, args.repeat)
    peak_rate = matmul_rate(device)
    print(f'{args.mode}, batch {args.batch}, {shape[0]}x{shape[1]}, '
          f'{device} ({torch.get_num_threads()} threads), median of '
          f'{args.repeat}; matmul probe {peak_rate / 1e9:.1f} GMAC/s')
    width = max(map(len, names))
    print(f'{"model":<{width}}  {"ms":>9} {"ratio":>6} {"img/s":>8} '
          f'{"peak MiB":>9} {"GMACs":>7} {"of matmul":>9}')
    for name, (fn, module), sec in zip(names, models, seconds):
        module.train(args.mode == 'train')
        peak = '-'
        if device.type == 'cuda':
            peak = measure(lambda: step(fn, module, inputs, args.mode),
                           device).peak_bytes
            peak = f'{peak / 2**20:.0f}'
        macs = count_macs(lambda: fn(inputs)).total
        factor = 3 if args.mode == 'train' else 1  # backward ~ 2x forward
        print(f'{name:<{width}}  {sec * 1e3:9.2f} {sec / seconds[0]:6.2f} '
              f'{args.batch / sec:8.1f} {peak:>9} '
              f'{macs / 1e9:7.2f} {factor * macs / sec / peak_rate:9.1%}')


def sweep(names, models, args, device):
    print(f'\nResolution sweep ({args.mode}): ms per size, exponent k of '
          'latency ~ pixels^k')
    table = [
        latencies(models, torch.rand(args.batch, 3, size, size,
                                     device=device), args.mode, args.warmup,
                  args.repeat) for size in args.sweep
    ]
    pixels = [size * size for size in args.sweep]
    width = max(map(len, names))
    print(f'{"model":<{width}}  ' + ' '.join(f'{s:>8}' for s in args.sweep)
          + '      k')
    for i, name in enumerate(names):
        row = [t[i] for t in table]
        print(f'{name:<{width}}  ' + ' '.join(f'{s * 1e3:8.1f}' for s in row)
              + f'  {fit_exponent(pixels, row):5.2f}')


def main():
    args = parse_args()
    if args.list:
        print('\n'.join(BACKBONES))
        return
    names = list(args.models) + (list(PEERS) if args.peers else [])
    if not names and not args.external:
        raise SystemExit('Name at least one MODEL (or --peers); --list '
                         'shows the built-in backbones.')
    check_names(names)
    device = torch.device(args.device)
    models = [build(name, device, args.whole) for name in names]
    names = [osp.basename(n) for n in names]
    for external_name, module in map(load_external, args.external):
        names.append(external_name)
        models.append(build(module, device, args.whole))
    report(names, models, args, device)
    if args.sweep:
        sweep(names, models, args, device)


if __name__ == '__main__':
    main()
