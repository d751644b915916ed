"""Every config loads and builds its model, with the parameter count of its
paper row."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path)

# Parameters (M) in the papers, by config: HAT-Net Tabs. 2-4, ClusTR Tabs.
# 2-5, 7 and 9.
PAPER_PARAMS_M = {
    'hat_net/hat-net-tiny_8xb128_in1k.py': 12.7,
    'hat_net/hat-net-small_8xb128_in1k.py': 25.7,
    'hat_net/hat-net-medium_8xb128_in1k.py': 42.9,
    'hat_net/hat-net-large_8xb128_in1k.py': 63.1,
    'hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py': 15.9,
    'hat_net/fpn_hat-net-small_8xb2-40k_ade20k-512x512.py': 29.5,
    'hat_net/fpn_hat-net-medium_8xb2-40k_ade20k-512x512.py': 46.7,
    'hat_net/fpn_hat-net-large_8xb2-40k_ade20k-512x512.py': 66.8,
    'hat_net/retinanet_hat-net-tiny_fpn_1x_coco.py': 21.6,
    'hat_net/retinanet_hat-net-small_fpn_1x_coco.py': 35.5,
    'hat_net/retinanet_hat-net-medium_fpn_1x_coco.py': 52.7,
    'hat_net/retinanet_hat-net-large_fpn_1x_coco.py': 73.1,
    'hat_net/mask-rcnn_hat-net-tiny_fpn_1x_coco.py': 31.8,
    'hat_net/mask-rcnn_hat-net-small_fpn_1x_coco.py': 45.4,
    'hat_net/mask-rcnn_hat-net-medium_fpn_1x_coco.py': 62.6,
    'hat_net/mask-rcnn_hat-net-large_fpn_1x_coco.py': 82.7,
    'clustr/clustr-tiny_8xb128_in1k.py': 11.7,
    'clustr/clustr-small_8xb128_in1k.py': 22.7,
    'clustr/clustr-base_8xb128_in1k.py': 40.2,
    'clustr/clustr-tiny_8xb128-100e_in1k.py': 11.7,
    'clustr/clustr-tiny-single-64_8xb128-100e_in1k.py': 10.8,
    'clustr/clustr-tiny-single-16_8xb128-100e_in1k.py': 10.8,
    'clustr/clustr-tiny-grid_8xb128-100e_in1k.py': 13.2,
    'clustr/fpn_clustr-small_8xb2-80k_ade20k-512x512.py': 26.4,
    'clustr/upernet_clustr-small_8xb2-160k_ade20k-512x512.py': 52.5,
    'clustr/retinanet_clustr-small_fpn_1x_coco.py': 32.4,
    'clustr/mask-rcnn_clustr-small_fpn_1x_coco.py': 42.3,
}
# The HAT-Net paper lists every Tiny dense model ~0.57M below what the
# official Tiny backbone (12.27M without classifier) plus the standard heads
# give; these are checked for that offset instead.
TINY_DENSE_EXCESS_M = (0.50, 0.65)


def build_model(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    registry = __import__(f'{cfg.default_scope}.registry',
                          fromlist=['MODELS']).MODELS
    cfg.model.backbone.pop('init_cfg', None)  # no downloads in tests
    return registry.build(cfg.model)


def rel(path):
    return osp.relpath(path, ROOT)


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_config_builds(path):
    model = build_model(path)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('name', sorted(PAPER_PARAMS_M))
def test_param_counts_match_paper(name):
    path = osp.join(ROOT, 'configs', name)
    params = sum(p.numel() for p in build_model(path).parameters()) / 1e6
    paper = PAPER_PARAMS_M[name]
    if 'hat-net-tiny' in name and '_in1k' not in name:
        low, high = TINY_DENSE_EXCESS_M
        assert low <= params - paper <= high, (params, paper)
    else:
        assert abs(params / paper - 1) <= 0.005, (params, paper)
