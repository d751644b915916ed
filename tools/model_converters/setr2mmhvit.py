"""Convert an official SETR checkpoint (github.com/fudan-zvg/SETR, an mmseg
0.x fork) to the layout of mmhvit's SETR configs (mmseg 1.x modules).

    python tools/model_converters/setr2mmhvit.py SETR_PUP_cityscapes.pth \
        setr_vit-l-pup_cityscapes.pth [--crop 768]

The result holds an mmseg ``EncoderDecoder`` state dict; evaluate it with
``tools/test.py configs/setr/<config>.py <result>``.

The key rules (and what is folded, dropped or resized) are those of
:mod:`mmhvit.models.utils.setr_convert`; any other key is an error. BEiT
rows have no official SETR checkpoints. Pre-training weights (timm
ViT/DeiT, BEiT) are converted by mmseg's own ``vit2mmseg.py`` /
``beit2mmseg.py`` instead (see configs/setr/README.md).
"""
import argparse

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from mmhvit import compat
from mmhvit.models.utils import unwrap_state_dict
from mmhvit.models.utils.setr_convert import convert_setr


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--crop',
        type=int,
        nargs='+',
        help='resize the position embedding for this crop (H [W]), the '
        "config's backbone.img_size; default: keep the stored size")
    parser.add_argument(
        '--interpolate-mode',
        default='bilinear',
        choices=['bilinear', 'bicubic'],
        help='position embedding interpolation (default: bilinear)')
    args = parser.parse_args()
    if args.crop is not None and len(args.crop) > 2:
        parser.error('--crop takes H or H W')
    return args


def main():
    args = parse_args()
    compat.apply()
    state_dict = unwrap_state_dict(
        CheckpointLoader.load_checkpoint(args.src, map_location='cpu'))
    if 'backbone.blocks.0.attn.qkv.weight' not in state_dict:
        raise SystemExit(f'{args.src} is not in the official SETR layout (no '
                         f'backbone.blocks.0.attn.qkv.weight); first keys: '
                         f'{list(state_dict)[:5]}')
    crop = None if args.crop is None else (args.crop * 2)[:2]
    converted = convert_setr(state_dict, crop, args.interpolate_mode)
    torch.save(
        dict(state_dict=converted, meta=dict(source=args.src, crop=crop)),
        args.dst)
    pos_embed = tuple(converted['backbone.pos_embed'].shape)
    print(f'Converted {len(state_dict)} official tensors into '
          f'{len(converted)} (pos_embed {pos_embed}): {args.dst}')


if __name__ == '__main__':
    main()
