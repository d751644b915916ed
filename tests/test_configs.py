"""Every config loads and builds its model, with the parameter count of its
paper row; every classifier runs a forward pass to its logits; an official
checkpoint fills the whole backbone of every config that starts from one;
the ImageNet-V2 test configs read the set as distributed."""
import copy
import functools
import glob
import os.path as osp
import re
import subprocess

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from mmhvit.analysis.model_zoo import (build_from_config, count_params,
                                       metafile_models)
from mmhvit.registry import MODELS
from mmhvit.utils import ConfigError
from helpers import ROOT
from reference.hat_net_reference import ARCHS, official_shapes
from reference.hlg_reference import official_hlg_shapes

CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                               recursive=True)
    if '_base_' not in path)

# Metafile rows by config. A row's parameters are within 0.5 % of its paper
# value, or the row explains the difference ("Parameters Note") and records
# our count ("Parameters Measured"), which must then hold to 0.05 %. Every
# row of a model with auxiliary heads (used only in training) says whether
# the paper counts them ("Auxiliary Heads Counted").
METAFILE_ROWS = {entry['Config']: entry for entry in metafile_models(ROOT)}
PAPER_TOLERANCE, MEASURED_TOLERANCE = 0.005, 0.0005


@functools.lru_cache(maxsize=None)
def parsed(path):
    """The config at ``path``, parsed once per test run (when a test first
    needs it, not while the tests are collected); copy it to edit it."""
    return Config.fromfile(path)


def build_model(path):
    # no weights: nothing downloaded
    return build_from_config(copy.deepcopy(parsed(path)))[0]


def assert_classifier_runs(model):
    """The backbone's outputs reach the head (mmdet backbones return lists,
    which mmpretrain's own pooling neck rejects)."""
    with torch.no_grad():
        logits = model.eval()(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 1000)


def rel(path):
    return osp.relpath(path, ROOT)


def configs_slow_where(pattern):
    """CONFIGS, those whose path matches ``pattern`` marked ``slow``."""
    return [pytest.param(path, marks=pytest.mark.slow)
            if re.search(pattern, path) else path for path in CONFIGS]


# BEiT-L's builds take 15-30 s (its relative position tables)
@pytest.mark.parametrize('path', configs_slow_where('beit-l'), ids=rel)
def test_config_builds_with_its_paper_parameters(path):
    model = build_model(path)
    if parsed(path).get('default_scope') == 'mmpretrain':  # a classifier
        assert_classifier_runs(model)
    metadata = METAFILE_ROWS.get(path, {}).get('Metadata', {})  # demo: none
    if getattr(model, 'with_auxiliary_head', False) and path in METAFILE_ROWS:
        assert 'Auxiliary Heads Counted' in metadata, 'as the paper counts?'
    skip = () if metadata.get('Auxiliary Heads Counted', True) else (
        'auxiliary_head', )
    params = count_params(model, skip)
    if 'Parameters' not in metadata:  # no paper count (ablations, demo)
        assert params > 0
        return
    paper = metadata['Parameters']
    if abs(params / paper - 1) <= PAPER_TOLERANCE:
        assert 'Parameters Note' not in metadata, 'note no longer needed'
        return
    assert 'Parameters Note' in metadata, (
        f'{params / 1e6:.3f} M is {params / paper - 1:+.2%} off the paper\'s '
        f'{paper / 1e6} M: explain it in the metafile or fix the model')
    measured = metadata['Parameters Measured']
    assert abs(params / measured - 1) <= MEASURED_TOLERANCE, (params,
                                                              measured)


# The official checkpoints configs start from, by file name, and the key
# layout of the official code that wrote them: HAT-Net's GitHub release and
# HLG's ImageNet weights (fudan-zvg/SETR; depths of its hlg-classification
# configs: 14 in stage 3 for Medium and Large).
HLG_OFFICIAL = dict(
    tiny=((64, 128, 256, 512), (2, 4, 8, 16), (2, 2, 6, 2)),
    small=((96, 192, 384, 768), (3, 6, 12, 24), (2, 2, 6, 2)),
    medium=((96, 192, 384, 768), (3, 6, 12, 24), (2, 2, 14, 2)),
    large=((128, 256, 512, 1024), (4, 8, 16, 32), (2, 2, 14, 2)))


def official_layout(checkpoint):
    """Keys and shapes of the official checkpoint ``checkpoint`` names, or
    None for any other file."""
    name = osp.basename(str(checkpoint))
    match = re.fullmatch(r'HAT-Net_(\w+)\.pth', name)
    if match:
        return official_shapes(ARCHS[match[1].lower()])
    match = re.fullmatch(r'hlg_(\w+)\.pth', name)
    if match:
        return official_hlg_shapes(*HLG_OFFICIAL[match[1]],
                                   num_classes=1000)
    return None


def official_depths(checkpoint):
    """Stage depths of the official HLG checkpoint ``checkpoint`` names."""
    match = re.fullmatch(r'hlg_(\w+)\.pth', osp.basename(str(checkpoint)))
    return tuple(HLG_OFFICIAL[match[1]][2]) if match else None


# HLG-M/L: two full-size builds and a full-size checkpoint, 10-20 s
@pytest.mark.parametrize('path', configs_slow_where(r'hlg-(medium|large)'),
                         ids=rel)
def test_official_checkpoint_fills_the_backbone(path, tmp_path):
    """A checkpoint in the official layout (every tensor 0.25) loads into
    every parameter of the backbone of a config that starts from it."""
    backbone = copy.deepcopy(parsed(path).model.backbone)
    shapes = official_layout((backbone.get('init_cfg') or {}).get(
        'checkpoint'))
    if shapes is None:  # known once the config is parsed
        pytest.skip('starts from no official HAT-Net or HLG checkpoint')
    checkpoint = str(tmp_path / osp.basename(backbone.init_cfg.checkpoint))
    torch.save({key: torch.full(shape, 0.25) for key, shape in shapes.items()},
               checkpoint)
    backbone.init_cfg.checkpoint = checkpoint
    init_default_scope(parsed(path).default_scope)
    depths = official_depths(checkpoint)
    if depths is not None and tuple(MODELS.build(backbone).depths) != depths:
        # HLG-M/L dense configs: the paper's depth 18, refused by name
        with pytest.raises(ConfigError, match=re.escape(
                f'--cfg-options "model.backbone.depths='
                f'({",".join(map(str, depths))})"')):
            MODELS.build(backbone).init_weights()
        backbone.depths = depths
    model = MODELS.build(backbone)
    model.init_weights()
    missed = [name for name, p in model.named_parameters()
              if not bool((p == 0.25).all())]
    assert not missed, f'{len(missed)} tensors not loaded: {missed[:5]}'


def test_imagenet_v2_layout(tmp_path):
    """The ImageNet-V2 test configs read the set as distributed (a folder
    per class, named by its index) with the annotation file the command in
    their base writes: every image gets the label of its folder's number,
    not of its position in sorted order (0, 1, 10, 100, 2, ...)."""
    base = osp.join(ROOT, 'configs/_base_/imagenet-v2_test.py')
    with open(base) as f:
        text = f.read()
    command = re.search(r'Write it once with\n((?:#   .*\n)+)', text)[1]
    command = ' '.join(line[4:].rstrip(' \\') for line in
                       command.splitlines())
    root = tmp_path / 'data' / 'imagenetv2'
    for label in (0, 1, 2, 10, 100):
        (root / str(label)).mkdir(parents=True)
        cv2.imwrite(str(root / str(label) / f'im{label}.jpeg'),
                    np.zeros((8, 8, 3), np.uint8))
    subprocess.run(command, shell=True, check=True, cwd=tmp_path)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/hlg/hlg-tiny_8xb128_in1k_test-imagenet-v2.py'))
    dataset = dict(cfg.test_dataloader.dataset, data_root=str(root))
    init_default_scope('mmpretrain')
    samples = DATASETS.build(dataset)
    labels = {osp.basename(osp.dirname(info['img_path'])): info['gt_label']
              for info in map(samples.get_data_info, range(len(samples)))}
    assert labels == {str(n): n for n in (0, 1, 2, 10, 100)}


def test_setr_vit_configs_attend_through_sdpa():
    """Every SETR config with a ViT / DeiT encoder builds
    mmhvit.SDPAVisionTransformer; the BEiT rows keep mmseg's BEiT (its
    learned relative position bias as an additive mask saves nothing: see
    configs/setr/README.md "Training memory")."""
    for path in CONFIGS:
        if rel(path).startswith('configs/setr/'):
            expected = 'BEiT' if 'beit' in osp.basename(path) else \
                'mmhvit.SDPAVisionTransformer'
            assert parsed(path).model.backbone.type == expected, path


# One config per pre-training file and crop of the SETR rows: mmseg's
# converters (vit2mmseg, beit2mmseg) write mmseg's layout at the
# pre-training resolution (384; BEiT 224), which the configs resize.
SETR_PRETRAINED = {
    'setr/setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py': 384,
    'setr/setr_vit-l-mla_8xb2-160k_ade20k-512x512.py': 384,
    'setr/setr_vit-l-naive_8xb2-80k_pascal-context-480x480.py': 384,
    'setr/setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py': 384,
    'setr/setr_vit-b-deit-mla_8xb2-160k_ade20k-512x512.py': 384,
    'setr/setr_beit-l-pup_8xb1-40k_cityscapes-768x768.py': 224,
}


@pytest.mark.slow
@pytest.mark.parametrize('path', SETR_PRETRAINED)
def test_pretrained_encoder_fills_the_setr_backbone(path, tmp_path):
    """A converted ViT / DeiT / BEiT file (every tensor 0.25, at the
    pre-training resolution) fills every backbone parameter of the SETR
    configs that start from it, position embeddings resized."""
    cfg = parsed(osp.join(ROOT, 'configs', path))
    init_default_scope('mmseg')
    source = copy.deepcopy(cfg.model.backbone)
    source.pop('init_cfg')
    source['img_size'] = SETR_PRETRAINED[path]
    checkpoint = str(tmp_path / 'pretrained.pth')
    torch.save({'state_dict': {
        key: torch.full_like(value, 0.25)
        for key, value in MODELS.build(source).state_dict().items()
    }}, checkpoint)
    backbone = copy.deepcopy(cfg.model.backbone)
    backbone.init_cfg.checkpoint = checkpoint
    model = MODELS.build(backbone)
    model.init_weights()
    missed = [name for name, p in model.named_parameters()
              if not torch.allclose(p, torch.full_like(p, 0.25))]
    assert not missed, f'{len(missed)} tensors not loaded: {missed[:5]}'
