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

import mmhvit  # noqa: F401
from mmhvit.analysis.model_zoo import measure_config


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
    result = measure_config(args.config, args.shape,
                            depth=max(args.per_module, 2))
    modules = result['macs_by_module']
    root = next(name for name in modules if '.' not in name)  # model class
    height, width = result['shape']
    print(f'Input: 1x3x{height}x{width}')
    print(f'Model ({root}): {result["params"] / 1e6:.3f} M parameters, '
          f'{result["macs"] / 1e9:.3f} G MACs '
          f'({2 * result["macs"] / 1e9:.3f} G FLOPs)')
    print(f'Backbone: {result["backbone_params"] / 1e6:.3f} M parameters, '
          f'{result["backbone_macs"] / 1e9:.3f} G MACs')
    for name, value in modules.items():
        if 0 < name.count('.') <= args.per_module:
            print(f'  {name:<50} {value / 1e9:9.3f} G MACs')


if __name__ == '__main__':
    main()
