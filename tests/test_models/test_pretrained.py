"""Loading pretrained weights: official layout converted on the fly, our own
layout with a prefix, a loud failure when nothing fits, and the refusal to
train when less than ``min_loaded_ratio`` of a backbone was loaded (by
mmhvit's loader or any other)."""
import re

import pytest
import torch

from mmhvit.checks import check_pretrained, snapshot_pretrained
from mmhvit.models import HLG, PVTHAFA, HATNet
from mmhvit.models.utils import load_pretrained
from mmhvit.utils import ConfigError
from reference.hat_net_reference import ARCHS, random_official_state_dict
from tiny_archs import TINY_HLG


def _outputs(model):
    torch.manual_seed(0)
    with torch.no_grad():
        return model.eval()(torch.rand(1, 3, 64, 64))


@pytest.mark.hat_net
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


def test_too_few_parameters_loaded_refuses_to_train(tmp_path):
    """A checkpoint of another variant: the shape mismatches are named."""
    path = str(tmp_path / 'tiny.pth')
    torch.save(HATNet(arch='tiny').state_dict(), path)
    # small's widths, tiny's depths (other depths are refused by name first)
    small = dict(HATNet.arch_zoo['small'],
                 depths=HATNet.arch_zoo['tiny']['depths'])
    model = HATNet(
        arch=small, init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(RuntimeError, match=(
            r'Only \d+\.\d% of the parameters of HATNet were loaded from '
            r'.*tiny.pth, below min_loaded_ratio=0.9: \d+ missing .*; '
            r'\d+ shape-mismatched \(e\.g\. stem.conv2.weight: checkpoint '
            r'\(48, 16, 3, 3\), model \(64, 16, 3, 3\)')):
        model.init_weights()


def test_min_loaded_ratio_is_configurable(tmp_path):
    path = str(tmp_path / 'tiny.pth')
    torch.save(HATNet(arch='tiny').state_dict(), path)
    model = HATNet(arch='small', init_cfg=dict(
        type='Pretrained', checkpoint=path, min_loaded_ratio=0.0))
    model.init_weights()
    with pytest.raises(ValueError, match=r'min_loaded_ratio must be in '
                       r'\[0, 1\], got 90'):
        HATNet(init_cfg=dict(type='Pretrained', checkpoint=path,
                             min_loaded_ratio=90))


def test_official_checkpoint_of_another_family_names_its_converter(tmp_path):
    path = str(tmp_path / 'hlg_small.pth')
    torch.save({'model': {'block1.0.mlp.fc1.weight': torch.zeros(8, 4)}},
               path)
    model = HATNet(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(RuntimeError, match=(
            r'It is an official HLG checkpoint: convert it with '
            r'tools/model_converters/hlg2mmhvit.py')):
        model.init_weights()


def _holder(backbone):
    from mmengine.model import BaseModule
    holder = BaseModule()
    holder.backbone = backbone
    return holder


def test_upstream_loaders_are_checked_too(tmp_path):
    """mmseg's ViT loads by its own key names: an official SETR checkpoint
    fills nothing, which check_pretrained sees from the unchanged
    parameters."""
    from mmseg.models.backbones import VisionTransformer
    arguments = dict(img_size=32, embed_dims=32, num_layers=2, num_heads=2)
    source = VisionTransformer(**arguments)
    own, official = str(tmp_path / 'vit.pth'), str(tmp_path / 'setr.pth')
    torch.save(source.state_dict(), own)
    torch.save({'state_dict': {
        'backbone.' + key.replace('layers.', 'blocks.').replace(
            'attn.attn.in_proj_', 'attn.qkv.'): value
        for key, value in source.state_dict().items()}}, official)
    for path, passes in ((own, True), (official, False)):
        model = _holder(VisionTransformer(**arguments, init_cfg=dict(
            type='Pretrained', checkpoint=path)))
        before = snapshot_pretrained(model)
        model.init_weights()
        if passes:
            check_pretrained(model, before)
            continue
        with pytest.raises(RuntimeError, match=(
                r'backbone \(VisionTransformer\): only \d\.\d% of its '
                r'parameters were loaded from .*setr.pth .* It is an '
                r'official SETR checkpoint: convert it with '
                r'tools/model_converters/setr2mmhvit.py')):
            check_pretrained(model, before)


def test_partial_loads_into_hafa_are_refused_before_training(tmp_path):
    """PVT-HAFA loads plain PVT weights where they fit, through the same
    loader and min_loaded_ratio floor as every backbone: refused by default,
    trained with an explicit lower ratio."""
    from mmdet.models.backbones import PyramidVisionTransformer
    arch = dict(embed_dims=16, num_layers=[1, 1, 1, 1],
                num_heads=[1, 2, 3, 4])
    path = str(tmp_path / 'pvt.pth')
    torch.save(PyramidVisionTransformer(**arch).state_dict(), path)
    for ratio in (None, 0.3):
        init_cfg = dict(type='Pretrained', checkpoint=path)
        if ratio is not None:
            init_cfg['min_loaded_ratio'] = ratio
        model = _holder(PVTHAFA(arch=arch, init_cfg=init_cfg))
        before = snapshot_pretrained(model)
        if ratio:
            model.init_weights()
            check_pretrained(model, before)
            continue
        with pytest.raises(RuntimeError, match=(
                r'Only \d\d\.\d% of the parameters of PVTHAFA were loaded '
                r'from .*pvt.pth, below min_loaded_ratio=0.9')):
            model.init_weights()


def test_checkpoint_of_other_depths_is_refused_naming_both(tmp_path):
    """A stage with more blocks in the file than in the model (or fewer)
    is refused, not loaded with the rest logged: errors.md row 100, with
    the depths that build the file's model."""
    path = str(tmp_path / 'shallow.pth')
    torch.save(HLG(arch=TINY_HLG).state_dict(), path)  # depths (1, 2, 1, 1)
    deeper = HLG(arch=TINY_HLG, depths=(1, 2, 3, 1),
                 init_cfg=dict(type='Pretrained', checkpoint=path,
                               min_loaded_ratio=0.5))
    with pytest.raises(ConfigError, match=re.escape(
            'shallow.pth does not have the blocks of HLG (stages.2.layers: 1 '
            'in the checkpoint, 3 in the model)') + '.*' + re.escape(
                'model has depths=(1, 2, 3, 1), the checkpoint depths=(1, 2, '
                '1, 1): to build the checkpoint\'s model, --cfg-options '
                '"model.backbone.depths=(1,2,1,1)"')):
        deeper.init_weights()
    same = dict(type='Pretrained', checkpoint=path)
    HLG(arch=TINY_HLG, init_cfg=same).init_weights()
    # min_loaded_ratio=0: whatever fits, with the rest in the log
    deeper.init_cfg['min_loaded_ratio'] = 0
    deeper.init_weights()
