"""Cluster pictures and the convolution-similarity measure, and the
visualize_clusters.py tool end to end."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmhvit.visualization import conv_similarity, draw_clusters
from helpers import ROOT, run_tool


@pytest.mark.hafa
def test_conv_similarity():
    blocks = np.arange(16).reshape(4, 4).repeat(2, 0).repeat(2, 1)
    assert conv_similarity(blocks) == 1.0  # every 2x2 window its own
    assert conv_similarity(np.zeros((8, 8), int)) == 0.0  # one big cluster
    stripes = np.arange(8)[None].repeat(8, 0)  # columns: split windows
    assert conv_similarity(stripes) == 0.0
    half = blocks.copy()
    half[:4] = 99  # top half merged into one cluster
    assert conv_similarity(half) == 0.5


def test_draw_clusters_outlines_and_colours():
    image = np.full((40, 60, 3), 128, np.uint8)
    clusters = np.array([[0, 1], [2, 2]])
    out = draw_clusters(image, clusters)
    assert out.shape == image.shape
    assert (out[19, :] == 255).all() or (out[20, :] == 255).all()
    assert not np.array_equal(out[5, 5], out[5, 45])  # clusters 0 and 1


@pytest.mark.hafa
@pytest.mark.slow
def test_visualize_clusters_tool(tmp_path):
    config = osp.join(ROOT, 'configs/hafa/pvt-tiny-hafa_8xb128_in1k.py')
    cfg = Config.fromfile(config)
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'hafa.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    image = str(tmp_path / 'image.png')
    cv2.imwrite(image, np.random.default_rng(0).integers(
        0, 255, (120, 160, 3), dtype=np.uint8))
    out = str(tmp_path / 'clusters.png')
    result = run_tool('analysis_tools/visualize_clusters.py', config,
                      checkpoint, image, '--out', out)
    assert 'similarity to a stride-2 convolution' in result.stdout
    picture = cv2.imread(out)
    # input + one SIA panel, each under a title of 2 lines
    assert picture.shape == (224 + 2 * 18 + 6, 2 * 299, 3)
    strip = picture[:42, 299:]
    assert (strip < 128).any() and (strip == 255).mean() > 0.8

    missing = run_tool('analysis_tools/visualize_clusters.py', config,
                       checkpoint, tmp_path / 'nope.png', fails=True)
    assert 'Cannot read image' in missing.stderr
