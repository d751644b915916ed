"""Parameters and multiply-accumulates (MACs) of a config's model.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]
        [--per-module DEPTH]

Works for segmentation, detection and classification configs. The input
defaults to the paper's size for the task: 224x224 ImageNet, the crop size
for segmentation (512x512 ADE20K, 768x768 Cityscapes), 800x1280 COCO.
Counted: convolutions, linear layers, attention (``QK^T`` and ``AV``, every
``scaled_dot_product_attention`` kernel including the CPU one), deformable
convolutions and clustering distances; not counted: norms, activations,
softmax, element-wise ops. 1 MAC = 2 FLOPs; the papers' "FLOPs" columns are
MACs. Parameters leave out auxiliary heads (training only).
"""
import argparse

import torch

import mmhvit  # noqa: F401
from mmhvit.utils.flops import count_macs
from mmhvit.utils.model_zoo import (build_from_config, count_params,
                                    default_shape, model_forward)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default: the paper\'s)')
    parser.add_argument('--per-module', type=int, default=0,
                        metavar='DEPTH',
                        help='also list the MACs of modules to this depth')
    return parser.parse_args()


def main():
    args = parse_args()
    model, cfg = build_from_config(args.config)
    shape = tuple(args.shape or default_shape(cfg))
    inputs = torch.rand(1, 3, *shape)
    macs = count_macs(lambda: model_forward(model, cfg.default_scope, inputs),
                      depth=max(args.per_module, 2))
    root = type(model).__name__
    print(f'Input: 1x3x{shape[0]}x{shape[1]}')
    print(f'Model ({root}): {count_params(model, ("auxiliary_head", )) / 1e6:.3f} M '
          f'parameters, {macs.total / 1e9:.3f} G MACs '
          f'({2 * macs.total / 1e9:.3f} G FLOPs)')
    print(f'Backbone: {count_params(model.backbone) / 1e6:.3f} M parameters, '
          f'{macs.by_module[root + ".backbone"] / 1e9:.3f} G MACs')
    for name, value in macs.by_module.items():
        if 0 < name.count('.') <= args.per_module:
            print(f'  {name:<50} {value / 1e9:9.3f} G MACs')


if __name__ == '__main__':
    main()
