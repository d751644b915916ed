"""Layer-wise lr decay: every backbone's ``get_layer_depth`` gives
mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` the depths of
mmpretrain's convention (stem 0, one per block, head last), so that the
built optimizer's lr of a parameter at depth ``d`` of ``L`` is
``lr * decay ** (L - 1 - d)``."""
import mmpretrain.engine  # noqa: F401 (registers the constructor)
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from mmhvit.utils import ConfigError
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_HLG, TINY_PVT, TINY_SWIN

LR, DECAY = 1e-3, 0.5
VIT = dict(type='mmhvit.SDPAVisionTransformer', img_size=32, patch_size=16,
           embed_dims=32, num_layers=2, num_heads=2, pre_norm=True,
           final_norm=True)

# backbone, its number of depths (sum of the tiny depths + 2), the depths
# of some parameters (neck and head: the last)
CASES = [
    pytest.param(
        dict(type='mmhvit.HATNet', arch=TINY_HAT_NET), 64, 6,
        {'backbone.stem.conv1.weight': 0,
         'backbone.stages.0.blocks.0.attn.qkv.weight': 1,
         'backbone.stages.1.downsample.conv.weight': 2,
         'backbone.stages.3.blocks.0.ffn.fc2.weight': 4,
         'head.fc.weight': 5}, id='HATNet'),
    pytest.param(
        dict(type='mmhvit.HLG', arch=TINY_HLG), 64, 7,
        {'backbone.stem.0.conv.weight': 0,
         'backbone.stages.0.layers.0.mlp.fc1.conv.weight': 1,
         'backbone.stages.1.layers.0.shortcut.conv.weight': 2,
         'backbone.stages.1.layers.1.mlp.fc1.conv.weight': 3,
         'backbone.stages.1.norm.weight': 3,
         'backbone.stages.3.layers.0.attn.q.weight': 5,
         'head.fc.weight': 6}, id='HLG'),
    pytest.param(
        dict(type='mmhvit.ClusTR', arch=TINY_CLUSTR), 64, 6,
        {'backbone.stages.0.patch_embed.projection.weight': 0,
         'backbone.stages.0.blocks.0.attn.q.weight': 1,
         'backbone.stages.0.norm.weight': 1,
         'backbone.stages.2.patch_embed.projection.weight': 3,
         'head.fc.weight': 5}, id='ClusTR'),
    pytest.param(
        dict(type='mmhvit.PVTHAFA', arch=TINY_PVT), 64, 6,
        {'backbone.layers.0.0.projection.weight': 0,
         'backbone.layers.0.1.0.pos_embed': 1,
         'backbone.layers.0.1.1.attn.attn.in_proj_weight': 1,
         'backbone.layers.1.0.offset.weight': 2,  # LAA
         'backbone.layers.3.0.score.weight': 4,  # SIA
         'backbone.kv_projections.3.0.key.conv.weight': 4,
         'head.fc.weight': 5}, id='PVTHAFA'),
    pytest.param(
        dict(type='mmhvit.SwinHAFA', arch=TINY_SWIN, out_indices=(3, )), 128,
        6,
        {'backbone.patch_embed.projection.weight': 0,
         'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight': 1,
         'backbone.stages.0.downsample.conv.weight': 2,  # LAA of stage 1
         'backbone.stages.2.downsample.score.weight': 4,  # SIA of stage 3
         'backbone.norm3.weight': 4,
         'head.fc.weight': 5}, id='SwinHAFA'),
    pytest.param(
        VIT, 32, 4,
        {'backbone.cls_token': 0, 'backbone.pos_embed': 0,
         'backbone.patch_embed.projection.weight': 0,
         'backbone.ln_pre.weight': 0,
         'backbone.layers.1.ffn.layers.1.weight': 2,
         'backbone.ln1.weight': 3, 'head.fc.weight': 3},
        id='SDPAVisionTransformer', marks=pytest.mark.setr),
]


def classifier(backbone, channels):
    return dict(type='ImageClassifier', backbone=backbone,
                neck=dict(type='mmhvit.GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=3,
                          in_channels=channels))


@pytest.mark.parametrize('backbone,channels,num_layers,depths', CASES)
def test_decayed_lrs_follow_the_formula(backbone, channels, num_layers,
                                        depths):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(classifier(backbone, channels))
    optim_wrapper = build_optim_wrapper(
        model,
        dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=0.05),
             constructor='mmpretrain.LearningRateDecayOptimWrapperConstructor',
             paramwise_cfg=dict(layer_decay_rate=DECAY)))
    groups = {group['param_name']: group
              for group in optim_wrapper.optimizer.param_groups}
    assert len(groups) == len(list(model.parameters()))
    for name, depth in depths.items():
        assert groups[name]['layer_id'] == depth, name
    assert {group['layer_id'] for group in groups.values()} == set(
        range(num_layers))
    for name, group in groups.items():
        expected = LR * DECAY**(num_layers - 1 - group['layer_id'])
        assert group['lr'] == pytest.approx(expected, rel=1e-12), name


def segmentor(backbone):
    """A tiny Semantic FPN segmentor (mmseg) on ``backbone``."""
    import mmseg.models  # noqa: F401 (registers the segmentor)
    from mmseg.registry import MODELS as SEG_MODELS
    head = dict(type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
                feature_strides=[4, 8, 16, 32], channels=16, num_classes=3)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return SEG_MODELS.build(dict(
            type='EncoderDecoder', backbone=backbone,
            neck=dict(type='FPN', in_channels=[16, 32, 48, 64],
                      out_channels=16, num_outs=4),
            decode_head=head))


def test_segmentor_lrs_decay_with_its_backbone_and_keep_lr_mult():
    """mmhvit's constructor gives a segmentor (no get_layer_depth of its
    own) its backbone's depths; necks and heads train at the full lr, times
    their custom_keys' lr_mult, as SETR's schedules set for the heads."""
    model = segmentor(dict(type='mmhvit.HATNet', arch=TINY_HAT_NET))
    optim_wrapper = build_optim_wrapper(
        model,
        dict(optimizer=dict(type='SGD', lr=LR, weight_decay=0.0),
             constructor='mmhvit.BackboneLayerDecayOptimWrapperConstructor',
             paramwise_cfg=dict(layer_decay_rate=DECAY, custom_keys={
                 'head': dict(lr_mult=10.)})))
    groups = {group['param_name']: group
              for group in optim_wrapper.optimizer.param_groups}
    assert len(groups) == len(list(model.parameters()))
    num_layers = 6
    for name, group in groups.items():
        expected = LR * DECAY**(num_layers - 1 - group['layer_id'])
        if name.startswith('decode_head.'):
            expected *= 10
        assert group['lr'] == pytest.approx(expected, rel=1e-12), name
        assert 'lr_mult' not in group
    assert groups['backbone.stem.conv1.weight']['lr'] == pytest.approx(
        LR * DECAY**5)
    assert groups['neck.lateral_convs.0.conv.weight']['lr'] == LR
    assert groups['decode_head.conv_seg.weight']['lr'] == pytest.approx(
        10 * LR)


def test_backbone_without_layer_depths_is_named():
    """docs/errors.md row 102."""
    model = segmentor(dict(type='ResNetV1c', depth=18, num_stages=4,
                           out_indices=(0, 1, 2, 3)))
    model.neck = torch.nn.Identity()
    with pytest.raises(ConfigError, match=r'EncoderDecoder has no '
                       r'get_layer_depth and its backbone \(ResNetV1c\) none '
                       'either'):
        build_optim_wrapper(model, dict(
            optimizer=dict(type='SGD', lr=LR),
            constructor='mmhvit.BackboneLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=DECAY)))
