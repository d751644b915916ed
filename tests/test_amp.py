"""Mixed precision: every AMP config trains a step under autocast in its
dtype with finite loss and gradients, and the parts that must stay in
float32 (clustering distances) do."""
import contextlib
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmhvit.analysis.model_zoo import build_from_config
from mmhvit.models.layers.clustering import dpc_knn, scaled_distance
from helpers import ROOT, det_batch, seg_batch

AMP_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*amp*.py')))


def autocast_features(extract_feat, dtype):

    def extract(inputs):
        with torch.autocast('cpu', dtype=dtype):
            feats = extract_feat(inputs)
        assert feats[0].dtype == dtype
        return tuple(f.float() for f in feats)

    return extract


def test_there_is_an_amp_config_per_family():
    families = {osp.basename(osp.dirname(p)) for p in AMP_CONFIGS}
    assert families == {'hat_net', 'hlg', 'clustr', 'hafa'}


@pytest.mark.slow
@pytest.mark.parametrize('path', AMP_CONFIGS,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_amp_config_trains_a_step_under_autocast(path):
    cfg = Config.fromfile(path)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    dtype = getattr(torch, cfg.optim_wrapper.get('dtype', 'float16'))
    torch.manual_seed(0)
    model, cfg = build_from_config(cfg)
    model.train()
    if cfg.default_scope == 'mmdet':
        # mmcv's CPU NMS has no half-precision kernel (its CUDA one has):
        # here backbone and neck run under autocast, the heads in float32
        data = det_batch()
        model.extract_feat = autocast_features(model.extract_feat, dtype)
        autocast = contextlib.nullcontext()
    else:
        data = seg_batch()
        model.data_preprocessor.size = (64, 64)  # not padded to 512 x 512
        autocast = torch.autocast('cpu', dtype=dtype)
    data = model.data_preprocessor(data, True)
    with autocast:
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss), losses
    loss.backward()
    grads = [p.grad for p in model.backbone.parameters()
             if p.grad is not None]
    assert len(grads) > 0.9 * len(list(model.backbone.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_clustering_stays_float32_under_autocast(dtype):
    """Distances, densities and cluster choices under autocast equal the
    float32 ones: a low-precision distance could flip a discrete choice."""
    torch.manual_seed(0)
    tokens = torch.randn(2, 300, 32)
    distances = scaled_distance(tokens, tokens)
    reference = dpc_knn(tokens, 20,
                        generator=torch.Generator().manual_seed(0))
    with torch.autocast('cpu', dtype=dtype):
        assert scaled_distance(tokens, tokens).dtype == torch.float32
        torch.testing.assert_close(scaled_distance(tokens, tokens),
                                   distances)
        clusters = dpc_knn(tokens, 20,
                           generator=torch.Generator().manual_seed(0))
    assert torch.equal(clusters, reference)
