"""One test per row of docs/errors.md: a bad input, and the named error (or
the documented behaviour) it produces. Pretrained-weight rows are in
tests/test_models/test_pretrained.py, unreadable checkpoints in
tests/test_compat.py, distributed and resume rows in tests/test_e2e.py,
work-dir, disk, signal and resume rows in tests/test_reliability.py,
inference rows in tests/test_inference.py."""
import copy
import functools
import glob
import json
import logging
import os.path as osp
import re
import shutil
import subprocess
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch import nn

from mmhvit import compat
from mmhvit.checks import (ConfigError, SampleError, check_channels,
                           check_checkpoint_paths,
                           check_checkpointing_under_ddp,
                           check_coco_annotations, check_data_paths,
                           check_data_preprocessor, check_dataset,
                           check_loaded_from, check_num_classes,
                           check_settings_applied, check_tested, check_topk,
                           install_forward_checks)
from mmhvit.datasets import (CheckedLoadImageFromFile,
                             CheckedLoadSegAnnotations, make_ade20k)
from mmhvit.engine.runner import use_torch_syncbn_on_one_process
from mmhvit.models import PVTHAFA, ClusTR, HATNet
from mmhvit.models.layers import TokenClusterer, dpc_knn, kmeans
from helpers import ROOT, coco_file, run_tool_in_process
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_PVT

SEG = 'configs/hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'
DET = 'configs/hat_net/mask-rcnn_hat-net-tiny_fpn_1x_coco.py'
CLS = 'configs/hat_net/hat-net-tiny_8xb128_in1k.py'


@functools.lru_cache(maxsize=None)
def _config(path):
    return Config.fromfile(osp.join(ROOT, path))


def build(path, edit=None):
    """The model of the config at ``path`` with the tiny test backbone,
    after ``edit(model_cfg)``."""
    cfg = copy.deepcopy(_config(path))
    init_default_scope(cfg.default_scope)
    model = cfg.model
    model.backbone.update(arch=TINY_HAT_NET, init_cfg=None)
    if 'neck' in model and 'in_channels' in model.neck:
        model.neck.update(in_channels=[16, 32, 48, 64], out_channels=32)
    if path == SEG:
        model.decode_head.update(in_channels=[32] * 4, channels=32,
                                 norm_cfg=dict(type='GN', num_groups=8))
    if path == CLS:
        model.head.in_channels = 64
    if edit:
        edit(model)
    registry = __import__(f'{cfg.default_scope}.registry',
                          fromlist=['MODELS']).MODELS
    return registry.build(model)


# -- model arguments ---------------------------------------------------------

@pytest.mark.hat_net
def test_unknown_arch():
    with pytest.raises(ValueError, match=r"Unknown HATNet arch 'huge'; "
                       r"choose one of \['l', 'large'"):
        HATNet(arch='huge')


@pytest.mark.hat_net
def test_custom_arch_missing_keys():
    with pytest.raises(ValueError, match=r'Custom HATNet arch misses keys '
                       r"\['head_dim', 'kernel_sizes'"):
        HATNet(arch=dict(stem_channels=8, embed_dims=(8, 8, 8, 8),
                         depths=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2)))


@pytest.mark.hat_net
def test_per_stage_setting_of_wrong_length():
    with pytest.raises(ValueError, match=r'grid_sizes needs one value per '
                       r'stage \(4\), got \[8, 8, 8\]'):
        HATNet(grid_sizes=(8, 8, 8))


@pytest.mark.parametrize('backbone', [HATNet, PVTHAFA],
                         ids=lambda backbone: backbone.__name__)
def test_out_indices_out_of_range(backbone):
    with pytest.raises(ValueError, match=r'out_indices \(0, 4\) out of '
                       r'range: this backbone has 4 stages \(0..3\)'):
        backbone(out_indices=(0, 4))


@pytest.mark.hat_net
def test_frozen_stages_out_of_range():
    with pytest.raises(ValueError,
                       match=r'frozen_stages must be in \[-1, 4\], got 5'):
        HATNet(frozen_stages=5)


def test_unknown_module_type():
    from mmhvit.registry import MODELS

    # the registry named is the default scope's (whichever ran last)
    with pytest.raises(KeyError, match=r'HATNett is not in the mm\w+::model '
                       'registry'):
        MODELS.build(dict(type='mmhvit.HATNett'))


# -- shapes met at the first forward pass -------------------------------------

def test_neck_channels_differ_from_backbone():
    model = build(SEG, lambda m: m.neck.update(in_channels=[48, 96, 240,
                                                            384]))
    install_forward_checks(model)
    with pytest.raises(ConfigError, match=re.escape(
            'neck (FPN) has in_channels=[48, 96, 240, 384] but receives 4 '
            'feature maps from the backbone with [16, 32, 48, 64] channels.'
            ' Set neck.in_channels=[16, 32, 48, 64] (or change the '
            'backbone).')):
        model._forward(torch.rand(1, 3, 64, 64))


def test_head_channels_differ_from_neck():
    model = build(SEG, lambda m: m.decode_head.update(in_channels=[64] * 4))
    install_forward_checks(model)
    with pytest.raises(ConfigError, match=re.escape(
            'decode_head (FPNHead) has in_channels=[64, 64, 64, 64] but '
            'receives 4 feature maps from the neck with [32, 32, 32, 32] '
            'channels (in_index=[0, 1, 2, 3]). Set decode_head.in_channels='
            '[32, 32, 32, 32]')):
        model._forward(torch.rand(1, 3, 64, 64))


def test_classifier_head_channels_differ_from_backbone():
    model = build(CLS, lambda m: m.head.update(in_channels=384))
    install_forward_checks(model)
    with pytest.raises(ConfigError, match=re.escape(
            'head (DropoutLinearClsHead) has in_channels=384 but receives 1 '
            'feature maps from the neck with [64] channels. Set '
            'head.in_channels=64')):
        model(torch.rand(1, 3, 64, 64), mode='tensor')


def test_matching_channels_pass():
    model = build(SEG)
    install_forward_checks(model)
    assert model._forward(torch.rand(1, 3, 64, 64)).shape[1] == 150


@pytest.mark.parametrize('settings,channels,passes', [
    (dict(in_channels=48, in_index=2), [16, 32, 48], True),
    (dict(in_channels=40, in_index=2), [16, 32, 48], False),
    (dict(in_channels=96, in_index=[1, 2], input_transform='resize_concat'),
     [16, 32, 64], True),
    (dict(in_channels=80, in_index=[1, 2], input_transform='resize_concat'),
     [16, 32, 64], False),
])
def test_channel_check_follows_in_index_and_input_transform(
        settings, channels, passes):
    head = nn.Module()
    head.__dict__.update(settings)
    feats = [torch.rand(1, c, 2, 2) for c in channels]
    if passes:
        check_channels('decode_head', 'neck', head, feats)
        return
    with pytest.raises(ConfigError, match='decode_head.in_channels=48'
                       if 'input_transform' not in settings else
                       'decode_head.in_channels=96'):
        check_channels('decode_head', 'neck', head, feats)


@pytest.mark.hafa
def test_input_smaller_than_total_stride():
    holder = nn.Module()
    holder.backbone = PVTHAFA(arch=TINY_PVT).eval()
    install_forward_checks(holder)
    holder.backbone(torch.rand(1, 3, 32, 40))  # the smallest that works
    with pytest.raises(ConfigError, match=re.escape(
            'An input of 16x40 pixels is smaller than the total stride 32 of '
            'PVTHAFA, which needs at least 32x32')):
        holder.backbone(torch.rand(1, 3, 16, 40))


@pytest.mark.hat_net
def test_pyramid_backbones_take_inputs_below_their_stride():
    """HAT-Net, ClusTR and HLG pad: no error, one-pixel outputs."""
    outs = HATNet(arch=TINY_HAT_NET).eval()(torch.rand(1, 3, 8, 8))
    assert [o.shape[-2:] for o in outs][-1] == (1, 1)


def test_more_clusters_than_tokens():
    tokens = torch.rand(1, 4, 8)
    for cluster in (dpc_knn, kmeans):
        with pytest.raises(ValueError, match=re.escape(
                'num_clusters must be in [1, 4] for 4 tokens, got 5.')):
            cluster(tokens, 5)


def test_fixed_sia_clusters_above_the_token_count_warn():
    model = PVTHAFA(arch=TINY_PVT, num_clusters=81)
    with pytest.warns(UserWarning, match=r'num_clusters=81 exceeds the (\d+) '
                      r'tokens of this input; merging into \1 clusters'):
        model(torch.rand(1, 3, 64, 64))


def test_clustr_grid_aggregation_names_a_too_small_input():
    model = ClusTR(arch=TINY_CLUSTR, kv_aggregation='grid',
                   reduction_ratios=((64, ), (16, ), (4, ), (1, )))
    with pytest.raises(ValueError, match=re.escape(
            'Grid aggregation pools 8x8-token cells (ratio 64), but this '
            'stage map has 4x4 tokens')):
        model(torch.rand(1, 3, 16, 16))


def test_unknown_clustering_method():
    with pytest.raises(ValueError, match="Unknown clustering method "
                       "'dbscan'; use 'dpc_knn' or 'kmeans'"):
        TokenClusterer(method='dbscan')


# -- config consistency, before the first iteration ---------------------------

class _Dataset:
    def __init__(self, classes):
        self.metainfo = dict(classes=classes)


def test_num_classes_of_decode_and_auxiliary_heads_differ():
    def add_auxiliary(model):
        model.auxiliary_head = dict(
            type='FCNHead', in_channels=32, in_index=2, channels=16,
            num_convs=1, num_classes=19,
            norm_cfg=dict(type='GN', num_groups=4))
    with pytest.raises(ConfigError, match=re.escape(
            'num_classes disagree: decode_head=150, auxiliary_head=19')):
        check_num_classes(build(SEG, add_auxiliary))


def test_num_classes_differ_from_dataset():
    with pytest.raises(ConfigError, match=re.escape(
            'num_classes disagree: decode_head=150; the train dataset '
            '_Dataset has 6 classes')):
        check_num_classes(build(SEG), _Dataset(tuple('abcdef')))
    check_num_classes(build(SEG), _Dataset(tuple(range(150))))


def test_num_classes_of_roi_heads_differ():
    model = build(
        DET, lambda m: m.roi_head.mask_head.update(num_classes=3))
    with pytest.raises(ConfigError, match=re.escape(
            'roi_head.bbox_head=80, roi_head.mask_head=3')):
        check_num_classes(model, _Dataset(tuple(range(80))))


def test_mmcv_syncbn_on_one_process_is_built_as_syncbn():
    cfg = copy.deepcopy(_config(SEG))
    cfg.model.decode_head.norm_cfg = dict(type='MMSyncBN')
    cfg.launcher = 'none'
    use_torch_syncbn_on_one_process(cfg)
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    from mmcv.cnn import build_norm_layer
    with pytest.raises(ValueError, match='Default process group has not '
                       'been initialized'):  # what the rewrite avoids
        build_norm_layer(dict(type='MMSyncBN'), 8)


def test_reentrant_checkpointing_under_ddp_with_unused_parameters():
    from mmdet.models.backbones import SwinTransformer
    holder = nn.Module()
    holder.backbone = SwinTransformer(
        embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1),
        window_size=2, with_cp=True)
    wrapper = mock.Mock(module=holder, find_unused_parameters=True)
    with mock.patch('mmhvit.checks.model.is_model_wrapper',
                    return_value=True):
        with pytest.raises(ConfigError, match=re.escape(
                "with_cp=True in 4 blocks from outside mmhvit, e.g. "
                "['backbone.stages.0.blocks.0 (SwinBlock)'")):
            check_checkpointing_under_ddp(wrapper)
        wrapper.module = nn.Module()
        wrapper.module.backbone = HATNet(arch=TINY_HAT_NET, with_cp=True)
        check_checkpointing_under_ddp(wrapper)  # non-reentrant: fine


def test_amp_on_cpu(monkeypatch):
    with pytest.raises(SystemExit, match='--amp needs a GPU'):
        run_tool_in_process(monkeypatch, 'train.py', SEG, '--amp')


def test_auto_scale_lr_without_base_batch_size(monkeypatch, tmp_path):
    """Every shipped config has one; a config of one's own may not."""
    config = tmp_path / 'own.py'
    config.write_text(f"_base_ = '{ROOT}/{SEG}'\nauto_scale_lr = None\n")
    with pytest.raises(RuntimeError, match='has no '
                       'auto_scale_lr.base_batch_size'):
        run_tool_in_process(monkeypatch, 'train.py', str(config),
                            '--auto-scale-lr')


PRETRAINED_VIT = """
_base_ = '{root}/{seg}'
data_root = '{data}'
model = dict(backbone=dict(
    _delete_=True, type='VisionTransformer', img_size=(64, 64),
    embed_dims=32, num_layers=2, num_heads=2, out_indices=(0, 1),
    init_cfg=dict(type='Pretrained', checkpoint='{checkpoint}')))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
log_level = 'WARNING'
"""


@pytest.mark.slow
def test_training_refuses_a_backbone_its_loader_left_empty(
        monkeypatch, tmp_path, ade):
    """tools/train.py with SETR's backbone (mmseg's ViT) and an official
    SETR file, which mmseg's loader skips key by key: stopped before the
    first iteration."""
    from mmseg.models.backbones import VisionTransformer
    checkpoint = str(tmp_path / 'setr_official.pth')
    vit = VisionTransformer(img_size=(64, 64), embed_dims=32, num_layers=2,
                            num_heads=2)
    torch.save({'state_dict': {
        'backbone.' + key.replace('layers.', 'blocks.').replace(
            'attn.attn.in_proj_', 'attn.qkv.'): value
        for key, value in vit.state_dict().items()}}, checkpoint)
    config = tmp_path / 'vit.py'
    config.write_text(PRETRAINED_VIT.format(
        root=ROOT, seg=SEG, data=ade.root, checkpoint=checkpoint))
    with pytest.raises(RuntimeError, match=r'backbone \(VisionTransformer\): '
                       r'only \d\.\d% of its parameters were loaded .* '
                       r'convert it with tools/model_converters/'
                       r'setr2mmhvit.py'):
        run_tool_in_process(monkeypatch, 'train.py', str(config),
                            '--work-dir', str(tmp_path / 'work'))
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_tested_checkpoint_of_another_model(tmp_path):
    path = save_state(tmp_path, HATNet(arch='tiny'))
    with pytest.raises(RuntimeError, match=r'Only \d\.\d% of the '
                       'parameters of the model hold values of .*other.pth: '
                       'it is a checkpoint of another model'):
        check_tested(build(SEG), path, 0.9)


def test_cfg_options_without_a_value(monkeypatch, capsys):
    """mmengine's DictAction: 'ValueError: not enough values to unpack'."""
    with pytest.raises(SystemExit) as exit_info:
        run_tool_in_process(monkeypatch, 'train.py', SEG, '--cfg-options',
                            'train_cfg.max_iters')
    assert exit_info.value.code == 2
    assert ("--cfg-options takes KEY=VALUE pairs, got 'train_cfg.max_iters' "
            'without "=" (e.g. train_cfg.max_iters=VALUE).'
            ) in capsys.readouterr().err


@pytest.mark.parametrize('option,message', [
    ('train_cfg.max_iters=abc', '--cfg-options train_cfg.max_iters=abc: the '
     'config holds the int 40000 there, not text.'),
    ('load_fron=x.pth', "--cfg-options load_fron: the config has no key "
     "'load_fron'; did you mean 'load_from'?"),
    ('train_cfg.max_iter=8', "--cfg-options train_cfg.max_iter: train_cfg "
     "has no key 'max_iter'; did you mean 'max_iters'?"),
])
def test_cfg_options_of_another_type_or_misspelt(monkeypatch, option,
                                                 message):
    """A string where the config holds a number failed much later without
    the key ('invalid literal for int()'); a misspelt key was merged as a
    new setting nothing reads."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_tool_in_process(monkeypatch, 'train.py', SEG, '--cfg-options',
                            option)


@pytest.mark.parametrize('option,message', [
    ('data_root=/data/my set', "'data/ade/ADEChallengeData2016'). Set it in "
     'a child config that ends with apply_data_settings(globals()) '
     '(docs/custom_dataset.md), which carries it to every entry that uses '
     "it, or set those entries, e.g. --cfg-options 'train_dataloader.dataset"
     ".data_root=/data/my set' 'val_dataloader.dataset.data_root=/data/my "
     "set' 'test_dataloader.dataset.data_root=/data/my set'."),
    ('num_classes=2', '150). Set it in a child config that ends with '
     'apply_data_settings(globals()) (docs/custom_dataset.md), which carries '
     'it to every entry that uses it, or set those entries, e.g. '
     '--cfg-options model.decode_head.num_classes=2 train_dataloader.'
     'dataset.pipeline.1.num_classes=2 '),
    ('crop_size=(64, 64)', '(512, 512)). Set it in a child config'),
])
def test_cfg_options_of_a_config_variable(monkeypatch, option, message):
    """README: 'pass --cfg-options with another data_root'; the top-level
    data settings were merged and reached nothing: the run trained on the
    config's data, classes or crop, silently."""
    key = option.split('=')[0]
    with pytest.raises(ConfigError, match=re.escape(
            f'--cfg-options {option}: {key} is a variable of the config '
            'file, used while the file was read: changed now, it reaches '
            'nothing (the entries built from it keep ') + '.*' +
            re.escape(message)):
        run_tool_in_process(monkeypatch, 'train.py', SEG, '--cfg-options',
                            option)


@pytest.mark.parametrize('config,options,message', [
    (SEG, ['--cfg-options', 'tta_pipeline=None'], "--tta: the config "
     "(default_scope='mmseg') has no tta_pipeline"),
    (DET, [], '--tta: MaskRCNN predicts instance masks, which mmdet\'s '
     'test-time augmentation (DetTTAModel) cannot merge'),
    (CLS, ['--show-dir', 'vis'], "--tta with --show-dir (or --show, or "
     "default_hooks.visualization.enable=True): mmpretrain's "
     'VisualizationHook draws plain batches only'),
])
def test_tta_on_a_config_it_cannot_run(monkeypatch, config, options,
                                       message):
    """``tools/test.py --tta`` failed with 'AttributeError: ConfigDict
    object has no attribute tta_pipeline' on every detection and
    classification config; the cases it cannot run (mmdet's and
    mmpretrain's own tools fail on them after the first batch) are named
    before anything is built."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_tool_in_process(monkeypatch, 'test.py', config, 'none.pth',
                            '--tta', *options)


def test_std_of_zero_is_refused_before_training():
    """The inputs would be Inf / NaN and the non-finite loss check would
    advise lowering the learning rate."""
    model = build(SEG, lambda m: m.data_preprocessor.update(std=[0, 0, 0]))
    with pytest.raises(ConfigError, match=re.escape(
            'data_preprocessor.std=[0, 0, 0] is not finite or divides by '
            'zero: normalised inputs (x - mean) / std would be Inf or NaN')):
        check_data_preprocessor(model)
    check_data_preprocessor(build(SEG))


def save_state(tmp_path, model, model_cfg=None):
    """A checkpoint of ``model``'s state, with a config naming
    ``model_cfg`` as mmengine writes it."""
    path = str(tmp_path / 'other.pth')
    meta = dict(cfg=Config(dict(model=model_cfg)).pretty_text) \
        if model_cfg else {}
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    return path


def test_load_from_a_checkpoint_of_another_family(tmp_path):
    """mmengine loads what fits and trains the rest from scratch, rc 0."""

    def clustr(model):
        model.backbone = dict(type='mmhvit.ClusTR', arch=TINY_CLUSTR)
    other = copy.deepcopy(_config(SEG).model)
    clustr(other)
    path = save_state(tmp_path, build(SEG, clustr), other)
    with pytest.raises(ConfigError, match=re.escape(
            f'load_from {path} filled only ') + r'\d+\.\d' + re.escape(
            "% of the model's parameters, below 0.9: it is a checkpoint of a "
            'model of type EncoderDecoder with backbone mmhvit.ClusTR; ')):
        check_loaded_from(build(SEG), path, 0.9)


def test_load_from_a_backbone_checkpoint(tmp_path):
    path = save_state(tmp_path, build(SEG).backbone)
    with pytest.raises(ConfigError, match=re.escape(
            'it is a checkpoint of a backbone alone, without the "backbone." '
            "prefix, which model.backbone.init_cfg=dict(type='Pretrained', "
            'checkpoint=...) loads')):
        check_loaded_from(build(SEG), path, 0.9)


def test_tested_checkpoint_of_another_number_of_classes(tmp_path):
    """The same model trained for 6 classes: 99% of the parameters fit, and
    mmengine would test with the classifier at its initial values."""
    path = save_state(tmp_path, build(
        SEG, lambda m: m.decode_head.update(num_classes=6)))
    with pytest.raises(RuntimeError, match=re.escape(
            f'{path} does not fit the model of the config: 2 tensors of other '
            'shapes (e.g. decode_head.conv_seg.weight: checkpoint (6, 32, 1, '
            '1), model (150, 32, 1, 1), decode_head.conv_seg.bias: checkpoint '
            '(6,), model (150,)), 0 of the model absent')):
        check_tested(build(SEG), path, 0.9)


def test_missing_pretrained_checkpoint_names_the_config_that_writes_it(
        monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile('configs/clustr/'
                          'fpn_clustr-tiny_8xb2-80k_ade20k-512x512.py')
    with pytest.raises(FileNotFoundError, match=re.escape(
            'model.backbone.init_cfg.checkpoint work_dirs/clustr-tiny_8xb128-'
            '100e_in1k/epoch_100.pth does not exist. It is a checkpoint that '
            'training the config clustr-tiny_8xb128-100e_in1k.py writes '
            '(`python tools/train.py configs/clustr/clustr-tiny_8xb128-100e_'
            'in1k.py`')):
        check_checkpoint_paths(cfg)


# -- data ---------------------------------------------------------------------

@pytest.fixture
def ade(tmp_path):
    """A four-image ADE20K training set (and one validation image) and a
    function building its training dataset."""
    root = make_ade20k(str(tmp_path / 'ade'), num_train=4, num_val=1,
                       size=(32, 32))

    def dataset(img_dir='images/training', num_classes=150):
        from mmseg.datasets import ADE20KDataset
        from mmseg.datasets.transforms import PackSegInputs
        return ADE20KDataset(
            data_root=root, data_prefix=dict(
                img_path=img_dir, seg_map_path='annotations/training'),
            pipeline=[CheckedLoadImageFromFile(),
                      CheckedLoadSegAnnotations(num_classes=num_classes,
                                                reduce_zero_label=True),
                      PackSegInputs()])
    dataset.root = root
    return dataset


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'not an image'])
def test_unreadable_image_is_named(ade, damage):
    path = osp.join(ade.root, 'images/training/ADE_train_00000002.jpg')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write({'truncated': data[:len(data) // 2], 'empty': b'',
                 'not an image': b'<html>404</html>'}[damage])
    dataset = ade()
    dataset[0]
    with pytest.raises(SampleError, match=re.escape(
            f'Cannot load image {path}: ')):
        dataset[1]


def test_label_values_outside_the_classes(ade):
    path = osp.join(ade.root, 'annotations/training/ADE_train_00000003.png')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    label[:2] = 200  # class 199 of 150 after reduce_zero_label
    label[-2:] = 255  # ignored: allowed
    cv2.imwrite(path, label)
    dataset = ade()
    with pytest.raises(SampleError, match=re.escape(
            f'Segmentation label {path} holds values [199] after '
            'reduce_zero_label, which maps a file value v to v - 1 and 0 to '
            'the ignore index, outside the 150 classes (valid: 0..149 and '
            'the ignore index 255)')):
        dataset[2]


def test_label_check_of_another_number_of_classes(ade):
    with pytest.raises(ConfigError, match=re.escape(
            'The train pipeline checks labels against num_classes=19 '
            '(CheckedLoadSegAnnotations), but the dataset ADE20KDataset has '
            '150 classes.')):
        check_dataset(ade(num_classes=19), 'train')


def sample_file(ade, kind, index):
    """The image (``kind='images'``) or label map (``'annotations'``) of
    training sample ``index`` (1-based) of the ``ade`` fixture."""
    suffix = 'jpg' if kind == 'images' else 'png'
    return osp.join(ade.root, kind, 'training',
                    f'ADE_train_{index:08d}.{suffix}')


def test_corrupt_jpeg_is_named(ade):
    """Garbage in a JPEG's scan data: libjpeg only warns on stderr and the
    image would train garbled."""
    path = sample_file(ade, 'images', 2)
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    start = data.find(b'\xff\xda') + 20  # into the entropy-coded data
    data[start:start + 100] = np.random.default_rng(0).integers(
        0, 256, 100, dtype=np.uint8).tobytes()
    with open(path, 'wb') as f:
        f.write(data)
    with pytest.raises(SampleError, match=re.escape(
            f"Image {path} is corrupt: its decoder reports 'Corrupt JPEG "
            'data')):
        ade()[1]


def test_image_of_one_pixel_is_named(ade):
    cv2.imwrite(sample_file(ade, 'images', 2), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(sample_file(ade, 'annotations', 2), np.ones((1, 1), np.uint8))
    with pytest.raises(SampleError, match=re.escape(
            f'Image {sample_file(ade, "images", 2)} is 1x1 pixels: images '
            'need at least 2 pixels a side.')):
        ade()[1]


@pytest.mark.parametrize('shape,problem', [
    ((32, 16), 'is 32x16 pixels but its image is 32x32: every label map '
     'must have the size of its image'),
    ((32, 32, 3), 'has 3 channels: labels must be single-channel maps of '
     'class indices'),
    ((1, 32), 'has a side of 1 pixel (mmseg loads it as shape (32,)): labels '
     'and images need at least 2 pixels a side.'),
])
def test_label_map_that_does_not_fit_its_image(ade, shape, problem):
    path = sample_file(ade, 'annotations', 2)
    cv2.imwrite(path, np.ones(shape, np.uint8))
    with pytest.raises(SampleError, match=re.escape(
            f'Segmentation label {path} {problem}')):
        ade()[1]


def test_unreadable_label_is_named(ade):
    path = sample_file(ade, 'annotations', 2)
    with open(path, 'r+b') as f:
        f.truncate(60)
    with pytest.raises(SampleError, match=re.escape(
            f'Cannot load segmentation label {path}: ')):
        ade()[1]


def test_jpeg_label_is_refused(ade):
    """A label map saved as JPEG (whatever its name): its compression
    changes class indices along the edges, silently."""
    path = sample_file(ade, 'annotations', 2)
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    ok, data = cv2.imencode('.jpg', label)
    with open(path, 'wb') as f:
        f.write(data.tobytes())
    with pytest.raises(SampleError, match=re.escape(
            f'Segmentation label {path} is a JPEG file: JPEG compression '
            'changes class indices along every edge')):
        ade()[1]


def test_grey_16_bit_and_rgba_images_are_read_as_colour(ade):
    """Accepted: the loader converts them to 3 channels of 8 bits (whatever
    the file name says about the format)."""
    image = cv2.imread(sample_file(ade, 'images', 1))
    for index, variant in ((2, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)),
                           (3, image.astype(np.uint16) * 257),
                           (4, cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))):
        ok, data = cv2.imencode('.png', variant)
        with open(sample_file(ade, 'images', index), 'wb') as f:
            f.write(data.tobytes())
    dataset = ade()
    reference = dataset[0]['inputs']
    for index in (1, 2, 3):
        inputs = dataset[index]['inputs']
        assert inputs.shape == (3, 32, 32) and inputs.dtype == torch.uint8
    assert torch.equal(dataset[2]['inputs'], reference)  # 16 bit, scaled


def test_empty_dataset(ade, tmp_path):
    compat.apply()  # as tools/ do
    (tmp_path / 'ade/ADEChallengeData2016/images/empty').mkdir()
    with pytest.raises(SampleError, match=re.escape(
            'The dataset ADE20KDataset has no samples (data_root')):
        ade('images/empty')  # mmengine: "need at least one array to ..."
    with pytest.raises(SampleError, match=re.escape(
            'The train dataset _Empty has no samples')):
        check_dataset(_Empty(), 'train')  # datasets without serialize_data


class _Empty(list):
    """A dataset without samples that mmengine does not serialise."""


def test_missing_data_root(tmp_path):
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='RepeatDataset', times=2,
        dataset=dict(data_root=str(tmp_path / 'nope'))))))
    with pytest.raises(FileNotFoundError, match=re.escape(
            "train_dataloader.dataset.dataset.data_root "
            f"'{tmp_path / 'nope'}' does not exist")):
        check_data_paths(cfg, 'train_dataloader')


def test_missing_image_folder(ade):
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        data_root=ade.root, data_prefix=dict(img_path='images/test')))))
    with pytest.raises(FileNotFoundError, match=re.escape(
            "test_dataloader.dataset.data_prefix.img_path 'images/test' does "
            'not exist under data_root')):
        check_data_paths(cfg, 'test_dataloader')


@pytest.mark.parametrize('bbox,problem', [
    ([1, 2, 10], 'bbox [1, 2, 10] is not 4 finite numbers [x, y, w, h]'),
    ([1, 2, 3, 4, 5], 'bbox [1, 2, 3, 4, 5] is not 4 finite numbers'),
    ([1, 2, float('nan'), 3], 'bbox [1, 2, nan, 3] is not 4 finite'),
    ([1, 2, -5, 3], 'bbox [1, 2, -5, 3] has a negative width or height'),
])
def test_coco_invalid_bbox(tmp_path, bbox, problem):
    with pytest.raises(SampleError, match=re.escape(
            f'1 annotations of {tmp_path}/instances.json (train dataset) are '
            f'invalid: [\'image id 7: {problem}')):
        check_coco_annotations(coco_file(tmp_path, bbox=bbox),
                               'train dataset')


def test_coco_invalid_polygon(tmp_path, caplog_current):
    with pytest.raises(SampleError, match='image id 7: polygon .* is not '
                       'finite numbers'):
        check_coco_annotations(coco_file(
            tmp_path, segmentation=[[1, 2, float('inf'), 2, 11, 12]]))
    check_coco_annotations(coco_file(tmp_path, segmentation=[[1, 2, 11, 2]]))
    assert ('image id 7: polygon [1, 2, 11, 2] has 4 coordinates (needs an '
            'even number, at least 6)') in caplog_current.text


def test_coco_annotation_of_an_unknown_category_or_outside_its_image(
        tmp_path):
    """mmdet drops both without a word."""
    with pytest.raises(SampleError, match=re.escape(
            "image id 7: category_id 9 is not in 'categories' (ids [1])")):
        check_coco_annotations(coco_file(tmp_path, category_id=9))
    with pytest.raises(SampleError, match=re.escape(
            'image id 7: bbox [500, 500, 10, 10] lies outside its 100x100 '
            'image (mmdet would drop it silently)')):
        check_coco_annotations(coco_file(tmp_path, bbox=[500, 500, 10, 10]))


def edit_coco(path, edit):
    """Apply ``edit`` to the JSON content of the COCO file ``path``."""
    with open(path) as f:
        content = json.load(f)
    edit(content)
    with open(path, 'w') as f:
        json.dump(content, f)
    return path


def test_coco_file_without_images(tmp_path):
    path = edit_coco(coco_file(tmp_path), lambda c: c.pop('images'))
    with pytest.raises(SampleError, match=re.escape(
            f"{path} (dataset) has no 'images' list (found ['annotations', "
            "'categories']): it is not a COCO instances file")):
        check_coco_annotations(path)


def test_coco_image_id_listed_twice(tmp_path):
    path = edit_coco(coco_file(tmp_path), lambda c: c['images'].append(
        dict(c['images'][0], file_name='8.jpg')))
    with pytest.raises(SampleError, match=re.escape(
            f"{path} (dataset) lists image ids [7] more than once in "
            "'images': mmdet would merge their annotations")):
        check_coco_annotations(path)


def test_classes_that_are_no_coco_category(tmp_path):
    """A misspelt class ('Person' for 'person'): mmdet maps classes to
    categories by name and would train it on no box."""
    init_default_scope('mmdet')
    from mmhvit.datasets import CheckedCocoDataset
    path = coco_file(tmp_path)
    with pytest.raises(SampleError, match=re.escape(
            "The classes ['Person'] of the dataset (metainfo.classes) are not "
            f"categories of {path} (its categories: ['person']): mmdet would "
            'find no box of them.')):
        CheckedCocoDataset(ann_file=path, metainfo=dict(classes=('Person', )),
                           data_prefix=dict(img=''), pipeline=[])
    assert len(CheckedCocoDataset(ann_file=path, data_prefix=dict(img=''),
                                  metainfo=dict(classes=('person', )),
                                  pipeline=[])) == 1


def test_coco_dataset_without_samples_names_its_filter(tmp_path):
    compat.apply()  # as tools/ do
    init_default_scope('mmdet')
    from mmhvit.datasets import CheckedCocoDataset
    path = edit_coco(coco_file(tmp_path), lambda c: c.update(annotations=[]))
    with pytest.raises(SampleError, match=re.escape(
            "check its 'images' and 'annotations', and filter_cfg "
            '(filter_empty_gt=True drops every image without an annotation '
            'of metainfo.classes')):
        CheckedCocoDataset(ann_file=path, metainfo=dict(classes=('person', )),
                           data_prefix=dict(img=''), pipeline=[],
                           filter_cfg=dict(filter_empty_gt=True))


@pytest.mark.parametrize('segmentation', [None, []])
def test_coco_boxes_without_masks_for_a_mask_pipeline(tmp_path,
                                                      segmentation):
    """Boxes-only COCO files through Mask R-CNN (docs/custom_dataset.md:
    make mask-rcnn the template's _base_): mmdet's loader failed with
    KeyError: 'mask' in a data worker at the first such image."""
    init_default_scope('mmdet')
    from mmhvit.datasets import CheckedCocoDataset
    path = edit_coco(coco_file(tmp_path), lambda c: c['annotations'][0].update(
        segmentation=segmentation))
    masks = [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    with pytest.raises(SampleError, match=re.escape(
            f"1 of the 1 annotations of {path} (dataset) have no "
            "'segmentation' (e.g. image ids [7]), but the pipeline loads "
            'masks (LoadAnnotations with_mask=True, as Mask R-CNN\'s does): '
            "mmdet's loader would fail with KeyError: 'mask'")):
        CheckedCocoDataset(ann_file=path, data_prefix=dict(img=''),
                           metainfo=dict(classes=('person', )),
                           pipeline=masks)
    boxes = [dict(type='LoadAnnotations', with_bbox=True)]
    assert len(CheckedCocoDataset(ann_file=path, data_prefix=dict(img=''),
                                  metainfo=dict(classes=('person', )),
                                  pipeline=boxes)) == 1


@pytest.mark.parametrize('size,note', [
    ((40, 50), ''),
    ((100, 50), ' (swapped: an EXIF orientation tag makes the decoder rotate '
     'it'),
])
def test_image_of_another_size_than_its_annotations(tmp_path, size, note):
    """COCO's width / height, which its boxes refer to, against the file
    (an image resized after annotating, or rotated by its EXIF tag)."""
    path = str(tmp_path / '7.jpg')
    cv2.imwrite(path, np.zeros((*size, 3), np.uint8))
    with pytest.raises(SampleError, match=re.escape(
            f'Image {path} is {size[0]}x{size[1]} pixels (height x width) but '
            f'its annotation file gives 50x100{note}')):
        CheckedLoadImageFromFile()(dict(img_path=path, height=50, width=100))


def test_class_labels_outside_the_classes(tmp_path):
    """mmpretrain: the loss would fail with 'IndexError: Target 5 is out of
    bounds' (a device-side assert on CUDA) once the sample is drawn."""
    init_default_scope('mmpretrain')
    from mmpretrain.datasets import CustomDataset
    (tmp_path / 'ann.txt').write_text('a.jpg 0\nb.jpg 5\nc.jpg 2\n')
    dataset = CustomDataset(data_root=str(tmp_path), ann_file='ann.txt',
                            metainfo=dict(classes=('x', 'y', 'z')),
                            pipeline=[])
    with pytest.raises(SampleError, match=re.escape(
            '1 samples of the train dataset CustomDataset (ann_file '
            f"'{tmp_path}/ann.txt') have labels [5] outside its 3 classes "
            f'(valid: 0..2), e.g. {tmp_path}/b.jpg.')):
        check_dataset(dataset, 'train')


def shape_folders(tmp_path, **metainfo):
    """mmpretrain's ``CustomDataset`` over the folders ``circle``, ``square``
    and ``triangle`` of an empty image each (``metainfo``: its
    ``classes``, say)."""
    init_default_scope('mmpretrain')
    from mmpretrain.datasets import CustomDataset
    for name in ('circle', 'square', 'triangle'):
        (tmp_path / name).mkdir()
        (tmp_path / name / '0.jpg').write_bytes(b'')
    return CustomDataset(data_root=str(tmp_path), data_prefix='',
                         pipeline=[], metainfo=metainfo or None)


def test_class_names_in_another_order_than_the_folders(tmp_path):
    """A folder dataset (docs/custom_dataset.md): mmpretrain labels the
    samples by the sorted folder names and only checks the number of
    classes, so a 'square' folder trained and predicted as 'circle'."""
    dataset = shape_folders(tmp_path,
                            classes=('square', 'circle', 'triangle'))
    assert dataset.get_gt_labels().tolist() == [0, 1, 2]  # by folder
    with pytest.raises(ConfigError, match=re.escape(
            "The classes of the train dataset CustomDataset ('square', "
            "'circle', 'triangle') are not in the order of its folders "
            "(['circle', 'square', 'triangle']): mmpretrain labels a sample "
            'by the position of its folder in the sorted folder names, so '
            'the images of these folders would be named wrongly: '
            "'circle' as 'square', 'square' as 'circle'. List classes as the "
            'sorted folder names')):
        check_dataset(dataset, 'train')
    # other names than the folders' (wnids, say) are the user's choice
    dataset = type(dataset)(
        data_root=str(tmp_path), data_prefix='', pipeline=[],
        metainfo=dict(classes=('round', 'four', 'three')))
    check_dataset(dataset, 'train')


def test_top_5_accuracy_of_fewer_classes_is_refused(tmp_path):
    """The ImageNet configs' Accuracy(topk=(1, 5)) on a 3-class dataset:
    mmpretrain's 'Top-5 accuracy is unavailable since the number of
    categories is 3' came at the first validation, after a training epoch."""
    dataset = shape_folders(tmp_path)
    from mmpretrain.evaluation import Accuracy
    with pytest.raises(ConfigError, match=re.escape(
            'val_evaluator Accuracy has topk=(1, 5), but the val dataset '
            'CustomDataset has 3 classes: top-5 accuracy is undefined and '
            'mmpretrain would fail at the first validation, after training. '
            'Set val_evaluator.topk=(1, 3) (--cfg-options '
            "'val_evaluator.topk=(1, 3)').")):
        check_topk([Accuracy(topk=(1, 5))], dataset, 'val')
    check_topk([Accuracy(topk=(1, 3))], dataset, 'val')


def test_data_settings_of_a_child_without_the_call(tmp_path):
    """A child of a config that ends with apply_data_settings, setting
    classes again without the call: the value reached nothing and the run
    trained the parent's classes, rc 0."""
    dataset = shape_folders(tmp_path)
    with pytest.raises(ConfigError, match=re.escape(
            "The config sets classes = ('circle', 'square') (2 classes), but "
            "its train dataset CustomDataset has 3 classes ('circle', "
            "'square', 'triangle'): a data setting reaches the datasets, "
            'heads and pipelines only through apply_data_settings(globals()),'
            ' the last line of a config that sets it '
            '(docs/custom_dataset.md)')):
        check_settings_applied(Config(dict(classes=('circle', 'square'))),
                               dataset, 'train')
    # heads and metainfo set by hand leave the base's num_classes behind
    check_settings_applied(Config(dict(num_classes=80)), dataset, 'train')


@pytest.fixture
def caplog_current(caplog):
    """Records of mmengine's current logger."""
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_catalogue_lists_every_test():
    """docs/errors.md names a test for each of its rows, and they exist."""
    with open(osp.join(ROOT, 'docs', 'errors.md')) as f:
        catalogue = f.read()
    rows = [line for line in catalogue.splitlines()
            if line.startswith('| ') and '`test_' in line]
    assert len(rows) >= 20
    names = {name for line in rows
             for name in re.findall(r'`(test_\w+)`', line)}
    defined = set()
    for path in glob.glob(osp.join(ROOT, 'tests', '**', 'test_*.py'),
                          recursive=True):
        with open(path) as f:
            defined |= set(re.findall(r'^def (test_\w+)', f.read(),
                                      flags=re.MULTILINE))
    assert names <= defined, names - defined


def test_every_check_names_its_row():
    """mmhvit.checks is the one home of the checks: each of its check_*
    functions names the docs/errors.md rows it produces, and they exist."""
    import importlib
    import inspect
    import pkgutil

    import mmhvit.checks
    with open(osp.join(ROOT, 'docs', 'errors.md')) as f:
        rows = {int(n) for n in re.findall(r'^\| (\d+) \|', f.read(),
                                           flags=re.MULTILINE)}
    checks = []
    for info in pkgutil.iter_modules(mmhvit.checks.__path__):
        module = importlib.import_module(f'mmhvit.checks.{info.name}')
        checks += [(name, obj) for name, obj in vars(module).items()
                   if name.startswith('check_') and inspect.isfunction(obj)
                   and obj.__module__ == module.__name__]
    assert len(checks) >= 25
    for name, function in checks:
        cited = re.match(r'errors\.md (?:rows?|row) ([\d, and-]+)',
                         function.__doc__ or '')
        assert cited, f'{name} names no errors.md row'
        numbers = set()
        for part in re.findall(r'\d+(?:-\d+)?', cited.group(1)):
            first, _, last = part.partition('-')
            numbers |= set(range(int(first), int(last or first) + 1))
        assert numbers and numbers <= rows, (name, numbers - rows)


def test_install_stops_when_the_disk_is_short(tmp_path):
    """A new venv is not started without the room it needs."""
    for name in ('Makefile', 'setup.py'):
        shutil.copy(osp.join(ROOT, name), tmp_path)
    shutil.copytree(osp.join(ROOT, 'requirements'), tmp_path / 'requirements')
    # PYTHON=false: had the check let it through, making the venv fails at once
    result = subprocess.run(
        ['make', 'install', 'MIN_FREE_GIB=1000000', 'PYTHON=false'],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert re.search(r'make install: \d+ GiB free under \S+; a new \.venv '
                     r'needs about 1000000 GiB', result.stderr), result.stderr
    assert not (tmp_path / '.venv').exists()
