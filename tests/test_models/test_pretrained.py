"""Loading pretrained weights: official layout converted on the fly, our own
layout with a prefix, and a loud failure when nothing fits."""
import pytest
import torch

from mmhvit.models import HATNet
from mmhvit.models.utils import load_pretrained
from reference.hat_net_reference import ARCHS, random_official_state_dict


def _outputs(model):
    torch.manual_seed(0)
    with torch.no_grad():
        return model.eval()(torch.rand(1, 3, 64, 64))


def test_official_checkpoint_is_converted_while_loading(tmp_path):
    path = str(tmp_path / 'HAT-Net_Tiny.pth')
    torch.save({'model': random_official_state_dict(ARCHS['tiny'])}, path)
    model = HATNet(
        arch='tiny',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    expected = random_official_state_dict(ARCHS['tiny'])
    torch.testing.assert_close(model.stem.conv1.weight,
                               expected['patch_embed.0.weight'])
    torch.testing.assert_close(model.stages[2].blocks[1].attn.pool_norm.bias,
                               expected['blocks.2.1.attn.ds_norm.bias'])


def test_own_checkpoint_with_prefix_round_trips(tmp_path):
    source = HATNet(arch='tiny')
    source.init_weights()
    path = str(tmp_path / 'detector.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in source.state_dict().items()}},
               path)
    target = HATNet(
        arch='tiny',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    target.init_weights()
    for a, b in zip(_outputs(source), _outputs(target)):
        torch.testing.assert_close(a, b)


def test_partial_match_is_reported(tmp_path):
    path = str(tmp_path / 'tiny.pth')
    torch.save(HATNet(arch='tiny').state_dict(), path)
    narrower_last_stage = dict(
        HATNet.arch_zoo['tiny'], embed_dims=(48, 96, 240, 192))
    report = load_pretrained(HATNet(arch=narrower_last_stage), path)
    mismatched = {key for key, _, _ in report.mismatched}
    assert 'stages.3.downsample.conv.weight' in mismatched
    assert all(key.startswith('stages.3.') for key in mismatched)
    assert not report.missing and not report.unexpected
    assert 'stages.2.blocks.5.ffn.fc2.weight' in report.loaded


def test_checkpoint_of_another_model_fails_loudly(tmp_path):
    path = str(tmp_path / 'resnet.pth')
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, path)
    model = HATNet(
        arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(RuntimeError, match='No tensor of .*resnet.pth fits'):
        model.init_weights()
