"""tools/model_converters/hat_net2mmhvit.py on an official-layout file."""
import argparse
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from helpers import ROOT, run_tool
from reference.hat_net_reference import (ARCHS, official_shapes,
                                         random_official_state_dict,
                                         reference_forward)

pytestmark = [pytest.mark.hat_net, pytest.mark.slow]


def test_converter_cli_maps_every_key_and_keeps_outputs(tmp_path):
    official = random_official_state_dict(ARCHS['tiny'], seed=3)
    src, dst = str(tmp_path / 'HAT-Net_Tiny.pth'), str(tmp_path / 'out.pth')
    # the official training script also stores its argparse namespace
    torch.save({'model': official, 'args': argparse.Namespace(lr=1e-3)},
               src)
    run_tool('model_converters/hat_net2mmhvit.py', src, dst)

    init_default_scope('mmpretrain')
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/hat_net/hat-net-tiny_8xb128_in1k.py'))
    classifier = MODELS.build(cfg.model).eval()
    state_dict = torch.load(dst, weights_only=True)['state_dict']
    dropped = [k for k in official_shapes(ARCHS['tiny']) if 'proj_norm' in k]
    assert len(state_dict) == len(official) - len(dropped)
    classifier.load_state_dict(state_dict, strict=True)

    image = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        logits = classifier(image, mode='tensor')
        expected = torch.cat([
            reference_forward(official, img[None], ARCHS['tiny'],
                              (8, 7, 7, 1), (8, 4, 2, 1))[1] for img in image
        ])
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
