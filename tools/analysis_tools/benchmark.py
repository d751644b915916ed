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
model's own (CUDA: allocator peak; CPU: resident-set peak), MACs and the
fraction of the matmul rate measured by a plain ``(n x n) @ (n x n)`` probe
on the same device. With ``--sweep`` each model also runs at every size and
the exponent ``k`` of ``latency ~ pixels^k`` is fitted (least squares in
log-log): 1 is linear in the pixel count, 2 quadratic.
"""
import argparse
import importlib.util
import math
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import Config

import mmhvit  # noqa: F401
from mmhvit.utils import measure
from mmhvit.utils.flops import count_macs
from mmhvit.utils.model_zoo import build_from_config, model_forward

# name -> (registry scope, backbone config); the dense-task settings of each
# family (grids / windows of segmentation and detection)
BACKBONES = {
    'hat_net-tiny': ('mmseg', dict(
        type='mmhvit.HATNet', arch='tiny', grid_sizes=(8, 8, 8, 1),
        pool_sizes=(16, 8, 4, 1))),
    'hat_net-small': ('mmseg', dict(
        type='mmhvit.HATNet', arch='small', grid_sizes=(8, 8, 8, 1),
        pool_sizes=(16, 8, 4, 1))),
    'hlg-tiny': ('mmseg', dict(type='mmhvit.HLG', arch='tiny')),
    'hlg-small': ('mmseg', dict(type='mmhvit.HLG', arch='small')),
    'clustr-tiny': ('mmseg', dict(type='mmhvit.ClusTR', arch='tiny')),
    'clustr-small': ('mmseg', dict(type='mmhvit.ClusTR', arch='small')),
    # clustering within windows of 16 x 16 tokens in stages 1-2: linear in
    # pixels (exact DPC-KNN is quadratic in the token count)
    'clustr-tiny-windowed': ('mmseg', dict(
        type='mmhvit.ClusTR', arch='tiny',
        clustering=dict(method='dpc_knn', k=5,
                        window_sizes=(16, 16, None, None)))),
    'pvt-tiny-hafa': ('mmdet', dict(type='mmhvit.PVTHAFA', arch='tiny')),
    'pvtv2-b1-hafa': ('mmdet', dict(type='mmhvit.PVTv2HAFA', arch='b1')),
    'swin-tiny-hafa': ('mmdet', dict(type='mmhvit.SwinHAFA', arch='tiny')),
    # upstream peers
    'pvt-tiny': ('mmdet', dict(type='PyramidVisionTransformer',
                               num_layers=[2, 2, 2, 2])),
    'pvtv2-b1': ('mmdet', dict(type='PyramidVisionTransformerV2',
                               embed_dims=64, num_layers=[2, 2, 2, 2])),
    'swin-tiny': ('mmpretrain', dict(type='SwinTransformer', arch='tiny',
                                     out_indices=(0, 1, 2, 3))),
    'vit-base': ('mmseg', dict(type='VisionTransformer', img_size=(224, 224),
                               out_indices=(2, 5, 8, 11))),
}
PEERS = ('pvt-tiny', 'pvtv2-b1', 'swin-tiny', 'vit-base')


def load_external(spec):
    """``NAME=FILE:FACTORY`` -> (NAME, the module ``FACTORY()`` builds)."""
    name, sep, target = spec.partition('=')
    path, _, factory = target.rpartition(':')
    if not (sep and path and factory and osp.isfile(path)):
        raise SystemExit(f'--external {spec!r}: expected NAME=FILE:FACTORY '
                         'with an existing Python FILE.')
    module_spec = importlib.util.spec_from_file_location(
        f'external_{name.replace("-", "_")}', path)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, osp.dirname(osp.abspath(path)))
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, factory, None)):
        raise SystemExit(f'--external {spec!r}: {path} has no callable '
                         f'{factory!r}.')
    return name, getattr(module, factory)()


def build(model, device, whole):
    """A callable ``fn(inputs)`` running the model, and its ``nn.Module``."""
    if isinstance(model, torch.nn.Module):
        return model.to(device), model
    if model in BACKBONES:
        scope, cfg = BACKBONES[model]
        registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
        module = registry.MODELS.build(dict(cfg, _scope_=scope))
        return module.to(device), module
    cfg = Config.fromfile(model)
    network, cfg = build_from_config(cfg)
    network = network.to(device)
    if whole:
        return (lambda x: model_forward(network, cfg.default_scope, x),
                network)
    return network.backbone, network.backbone


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def step(fn, module, inputs, mode):
    """One forward (no gradients) or one training step's forward and
    backward."""
    if mode == 'forward':
        with torch.no_grad():
            return fn(inputs)
    outs = fn(inputs)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    loss = sum(o.float().mean() for o in outs if torch.is_tensor(o))
    loss.backward()
    module.zero_grad(set_to_none=True)


def latencies(models, shape, args, device):
    """Median seconds per model, taking turns round by round."""
    inputs = torch.rand(args.batch, 3, *shape, device=device)
    for fn, module in models:
        module.train(args.mode == 'train')
        for _ in range(args.warmup):
            step(fn, module, inputs, args.mode)
    times = [[] for _ in models]
    for _ in range(args.repeat):
        for (fn, module), record in zip(models, times):
            synchronize(device)
            start = time.perf_counter()
            step(fn, module, inputs, args.mode)
            synchronize(device)
            record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def matmul_rate(device, size=2048, repeat=10):
    """MACs per second of a plain square matmul on ``device``."""
    a = torch.rand(size, size, device=device)
    a @ a
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeat):
        a @ a
    synchronize(device)
    return repeat * size**3 / (time.perf_counter() - start)


def fit_exponent(pixels, seconds):
    """Least-squares slope of log(seconds) against log(pixels)."""
    xs, ys = [math.log(p) for p in pixels], [math.log(s) for s in seconds]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum(
        (x - mx)**2 for x in xs)


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
    seconds = latencies(models, shape, args, device)
    peak_rate = matmul_rate(device)
    print(f'{args.mode}, batch {args.batch}, {shape[0]}x{shape[1]}, '
          f'{device} ({torch.get_num_threads()} threads), median of '
          f'{args.repeat}; matmul probe {peak_rate / 1e9:.1f} GMAC/s')
    width = max(map(len, names))
    print(f'{"model":<{width}}  {"ms":>9} {"ratio":>6} {"img/s":>8} '
          f'{"peak MiB":>9} {"GMACs":>7} {"of matmul":>9}')
    inputs = torch.rand(args.batch, 3, *shape, device=device)
    for name, (fn, module), sec in zip(names, models, seconds):
        module.train(args.mode == 'train')
        peak = measure(lambda: step(fn, module, inputs, args.mode),
                       device).peak_bytes
        macs = count_macs(lambda: fn(inputs)).total
        factor = 3 if args.mode == 'train' else 1  # backward ~ 2x forward
        print(f'{name:<{width}}  {sec * 1e3:9.2f} {sec / seconds[0]:6.2f} '
              f'{args.batch / sec:8.1f} {peak / 2**20:9.0f} '
              f'{macs / 1e9:7.2f} {factor * macs / sec / peak_rate:9.1%}')


def sweep(names, models, args, device):
    print(f'\nResolution sweep ({args.mode}): ms per size, exponent k of '
          'latency ~ pixels^k')
    table = [latencies(models, (size, size), args, device)
             for size in args.sweep]
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
    for name in names:
        if name not in BACKBONES and not osp.isfile(name):
            raise SystemExit(f'{name!r} is neither a config file nor one of '
                             f'{sorted(BACKBONES)}.')
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
