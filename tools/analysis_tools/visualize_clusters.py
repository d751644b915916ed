"""Draw the clusters of every SIA module of a model over an image (HAFA
Fig. 4, supplement Fig. 1) and report how convolution-like they are (the
supplement's Sec. 3 similarity).

    python tools/analysis_tools/visualize_clusters.py CONFIG CHECKPOINT \
        IMAGE [--out clusters.png] [--short-side 224]

The PNG shows the input, then one panel per SIA module: every cluster in
its own colour, outlined; above each panel its title (the module, its
number of clusters and their similarity to a stride-2 convolution). Works
with any config whose backbone has SIA modules (configs/hafa/).
"""
import argparse
import os.path as osp

import cv2
import mmcv
import numpy as np
import torch
from mmengine.runner import load_checkpoint

from mmhvit import compat
from mmhvit.analysis.model_zoo import build_from_config
from mmhvit.visualization import (cluster_map, collect_sia_clusters,
                                  conv_similarity, draw_clusters)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--out', default='clusters.png')
    parser.add_argument('--short-side', type=int, default=224,
                        help='resize the image to this short side first')
    return parser.parse_args()


def build_model(config, checkpoint):
    model, _ = build_from_config(config)  # the checkpoint has it all
    load_checkpoint(model, checkpoint, map_location='cpu')
    return model.eval()


def titled(panel, lines, line_height=18):
    """``panel`` below a white strip with ``lines`` of text (black)."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    strip = np.full((line_height * len(lines) + 6, panel.shape[1], 3), 255,
                    np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(strip, line, (4, line_height * (i + 1)), font, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, panel])


def main():
    args = parse_args()
    compat.apply()
    image = mmcv.imread(args.image) if osp.isfile(args.image) else None
    if image is None:
        raise SystemExit(f'Cannot read image {args.image}: missing or not '
                         'an image.')
    image = mmcv.imrescale(image, (10**4, args.short_side))  # BGR
    model = build_model(args.config, args.checkpoint)
    inputs = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(image.transpose(2, 0, 1).copy())]),
        False)['inputs']
    found = collect_sia_clusters(model.backbone, inputs)
    if not found:
        raise SystemExit(f'The backbone of {args.config} has no SIA module.')
    panels = [titled(image, ['input', f'{image.shape[1]}x{image.shape[0]}'])]
    for name, tokens in found:
        clusters = cluster_map(tokens)[0]
        similarity = 100 * conv_similarity(clusters)
        title = [name, f'{tokens.num_tokens} clusters, {similarity:.0f}% '
                 'like a conv']
        panels.append(titled(draw_clusters(image, clusters), title))
        print(f'{name}: {tokens.num_tokens} clusters over a '
              f'{tokens.init_size[0]}x{tokens.init_size[1]} grid; similarity '
              f'to a stride-2 convolution {similarity:.1f}%')
    cv2.imwrite(args.out, np.hstack(panels))
    print(f'Wrote {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
