"""Every config loads and builds its model; the dense HAT-Net models have the
paper's parameter counts (Tabs. 3 and 4)."""
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

# params (M) in the paper: Semantic FPN (Tab. 3), RetinaNet and Mask R-CNN
# (Tab. 4)
PAPER_DENSE_PARAMS_M = {
    'fpn': dict(tiny=15.9, small=29.5, medium=46.7, large=66.8),
    'retinanet': dict(tiny=21.6, small=35.5, medium=52.7, large=73.1),
    'mask-rcnn': dict(tiny=31.8, small=45.4, medium=62.6, large=82.7),
}
# The paper lists every Tiny dense model ~0.57M below what the official Tiny
# backbone (12.27M without classifier) plus the standard heads give.
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


@pytest.mark.parametrize(
    'path',
    [p for p in CONFIGS if osp.basename(p).split('_')[0] in
     PAPER_DENSE_PARAMS_M and 'hat-net' in p],
    ids=rel)
def test_dense_param_counts_match_paper(path):
    name = osp.basename(path)
    algo = name.split('_')[0]
    variant = name.split('hat-net-')[1].split('_')[0]
    params = sum(p.numel() for p in build_model(path).parameters()) / 1e6
    paper = PAPER_DENSE_PARAMS_M[algo][variant]
    if variant == 'tiny':
        low, high = TINY_DENSE_EXCESS_M
        assert low <= params - paper <= high, (params, paper)
    else:
        assert abs(params / paper - 1) <= 0.005, (params, paper)
