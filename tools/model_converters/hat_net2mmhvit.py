"""Convert an official HAT-Net checkpoint (github.com/yun-liu/HAT-Net) to
mmhvit's layout.

    python tools/model_converters/hat_net2mmhvit.py HAT-Net_Tiny.pth \
        hat-net-tiny_in1k.pth

The result holds an mmpretrain ``ImageClassifier`` state dict (``backbone.*``
and ``head.fc.*``): classification configs load it with ``load_from`` and the
dense configs through ``init_cfg=dict(type='Pretrained', checkpoint=...,
prefix='backbone.')``. (Those configs also accept the official file itself:
mmhvit converts it while loading.)
"""
import argparse

import torch
from mmengine.runner.checkpoint import CheckpointLoader

import mmhvit  # noqa: F401  (loads checkpoints holding training state)
from mmhvit.models.utils import convert_hat_net, unwrap_state_dict
from mmhvit.models.utils.ckpt_convert import is_hat_net_official


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='output path')
    return parser.parse_args()


def main():
    args = parse_args()
    state_dict = unwrap_state_dict(
        CheckpointLoader.load_checkpoint(args.src, map_location='cpu'))
    if not is_hat_net_official(state_dict):
        raise SystemExit(
            f'{args.src} is not in the official HAT-Net layout (no '
            f'patch_embed.0.weight / blocks.0.0.attn.*); first keys: '
            f'{list(state_dict)[:5]}')
    converted = convert_hat_net(state_dict)
    torch.save(dict(state_dict=converted, meta=dict(source=args.src)),
               args.dst)
    print(f'Converted {len(state_dict)} tensors into {len(converted)} '
          f'({len(state_dict) - len(converted)} unused proj_norm tensors '
          f'dropped): {args.dst}')


if __name__ == '__main__':
    main()
