"""Forward latency of the backbones of several configs, measured side by
side in one run, with ratios to the first.

    python tools/analysis_tools/benchmark.py CONFIG [CONFIG ...] \
        [--shape 224 224] [--batch 1] [--repeat 30] [--warmup 5] \
        [--device cpu|cuda]

Each backbone runs in eval mode without gradients, the configs taking turns
round by round so that machine load affects all alike; the median per
config is reported (CUDA time is synchronised).
"""
import argparse
import os.path as osp
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmhvit  # noqa: F401


def build_backbone(config, device):
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    registry = __import__(f'{cfg.default_scope}.registry',
                          fromlist=['MODELS']).MODELS
    backbone_cfg = cfg.model.backbone
    backbone_cfg.pop('init_cfg', None)
    backbone_cfg.setdefault('_scope_', cfg.default_scope)
    backbone = registry.build(backbone_cfg).to(device)
    backbone.eval()  # some upstream train() overrides return None
    return backbone


def timed(fn, device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224])
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=30)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--device', default='cuda' if
                        torch.cuda.is_available() else 'cpu')
    return parser.parse_args()


@torch.no_grad()
def main():
    args = parse_args()
    device = torch.device(args.device)
    inputs = torch.rand(args.batch, 3, *args.shape, device=device)
    backbones = [build_backbone(c, device) for c in args.configs]
    for backbone in backbones:
        for _ in range(args.warmup):
            backbone(inputs)
    times = [[] for _ in backbones]
    for _ in range(args.repeat):
        for backbone, record in zip(backbones, times):
            record.append(timed(lambda: backbone(inputs), device))
    medians = [statistics.median(t) * 1e3 for t in times]
    print(f'Backbone forward, batch {args.batch}, {args.shape[0]}x'
          f'{args.shape[1]}, {args.device} ({torch.get_num_threads()} '
          f'threads), median of {args.repeat}')
    width = max(len(osp.basename(c)) for c in args.configs)
    for config, median in zip(args.configs, medians):
        print(f'{osp.basename(config):<{width}}  {median:9.2f} ms  '
              f'x{median / medians[0]:.2f}')


if __name__ == '__main__':
    main()
