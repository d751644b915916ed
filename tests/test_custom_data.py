"""A paper config on one's own data, one place per setting: a child that sets
only ``data_root``, ``classes``, ``scale`` and ``crop_size`` (and calls
``apply_data_settings``, mmhvit/config_settings.py) reaches every pipeline,
head, data preprocessor, dataset and evaluator; it trains, tests without the
training data (``tools/test.py --show-dir --out``) and infers."""
import os.path as osp
import re
import shutil

import mmcv
import numpy as np
import pytest
from mmengine.config import Config

from mmhvit.apis import build_inferencer, infer_image, load_inference_config
from mmhvit.config_settings import apply_data_settings
from mmhvit.datasets.synthetic import make_ade20k, make_coco
from mmhvit.utils import ConfigError
from helpers import (BACKBONE, COMMON, DET_NECK, FAMILIES, FPN_HEADS, ROOT,
                     TINY_DET_HEADS, as_arguments, logged_metrics, run_tool,
                     write)

SEG_CLASSES = ('background', 'circle', 'square', 'triangle')
DET_CLASSES = ('person', 'bicycle')  # make_coco's first two categories

# the settings block of the child: the only data edits
SETTINGS = """
_base_ = '{root}/configs/{base}'
from mmhvit.config_settings import apply_data_settings  # noqa: E402

data_root = '{data}'
classes = {classes!r}
scale = {scale!r}
{extra}"""
# test sizes only: a tiny model, a few iterations
SEG_TINY = """
model = dict({backbone}{heads})
train_dataloader = dict(batch_size=2)
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='PolyLR', begin=0, end=2, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
{common}
apply_data_settings(globals())
"""
DET_TINY = """
model = dict({backbone}{neck}{heads},
             test_cfg=dict(rcnn=dict(score_thr=0.0)))
train_dataloader = dict(batch_size=2)
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1))
{common}
apply_data_settings(globals())
"""


def seg_child(tmp_path, data):
    family = FAMILIES['clustr']
    return write(tmp_path / 'seg.py', SETTINGS.format(
        root=ROOT, base='clustr/fpn_clustr-tiny_8xb2-80k_ade20k-512x512.py',
        data=data, classes=SEG_CLASSES, scale=(128, 32),
        extra='crop_size = (32, 32)\n') + SEG_TINY.format(
            backbone=BACKBONE.format(arch=family['arch']), heads=FPN_HEADS,
            common=COMMON))


def det_child(tmp_path, data):
    family = FAMILIES['hafa']
    return write(tmp_path / 'det.py', SETTINGS.format(
        root=ROOT, base='hafa/mask-rcnn_pvt-tiny-hafa_fpn_1x_coco.py',
        data=data, classes=DET_CLASSES, scale=(96, 64), extra='') +
        DET_TINY.format(
            backbone=BACKBONE.format(arch=family['arch']),
            neck=DET_NECK.format(dims=[16, 32, 48, 64]),
            heads=as_arguments(TINY_DET_HEADS['mask-rcnn']), common=COMMON))


def test_seg_settings_reach_everything(tmp_path):
    cfg = Config.fromfile(seg_child(tmp_path, 'data/mine'))
    assert cfg.num_classes == 4
    assert cfg.model.decode_head.num_classes == 4
    assert tuple(cfg.model.data_preprocessor.size) == (32, 32)
    train = cfg.train_dataloader.dataset
    assert (train.type, train.data_root, train.reduce_zero_label) == (
        'BaseSegDataset', 'data/mine', True)  # ADE20K's stored labels
    assert tuple(train.metainfo.classes) == SEG_CLASSES
    resize, crop, check = (
        next(t for t in train.pipeline if t.type == name)
        for name in ('RandomResize', 'RandomCrop',
                     'mmhvit.CheckedLoadSegAnnotations'))
    assert tuple(resize.scale) == (128, 32)
    assert tuple(crop.crop_size) == (32, 32)
    assert check.num_classes == 4
    test = cfg.test_dataloader.dataset
    assert test.data_root == 'data/mine'
    assert [tuple(t.scale) for t in test.pipeline if t.type == 'Resize'] == [
        (128, 32)]


def test_sizes_scale_in_proportion():
    """Multi-scale lists and test-time scales keep their ratios to the
    scale; the sliding-window stride keeps its ratio to the crop; the
    config's own entries are merged in first."""
    base = Config(dict(
        scale=(1000, 500), crop_size=(100, 100),
        model=dict(data_preprocessor=dict(size=(100, 100)),
                   test_cfg=dict(crop_size=(100, 100), stride=(50, 50)),
                   decode_head=dict(num_classes=9)),
        tta_pipeline=[dict(type='TestTimeAug', transforms=[[
            dict(type='Resize', scale=(500, 250)),
            dict(type='Resize', scale=(1000, 500))]])],
        train_dataloader=dict(dataset=dict(type='BaseSegDataset', pipeline=[
            dict(type='RandomChoiceResize', scales=[(1000, 400), (1000, 500)]),
            dict(type='RandomCrop', crop_size=(100, 100))]))))
    namespace = dict(_base_=base._cfg_dict, scale=(200, 100),
                     crop_size=(60, 60), num_classes=3,
                     model=dict(decode_head=dict(dropout_ratio=0.0)))
    apply_data_settings(namespace)
    assert namespace['model'] == dict(
        _delete_=True, data_preprocessor=dict(size=(60, 60)),
        test_cfg=dict(crop_size=(60, 60), stride=(30, 30)),
        decode_head=dict(num_classes=3, dropout_ratio=0.0))
    assert [t['scale'] for t in
            namespace['tta_pipeline'][0]['transforms'][0]] == [(100, 50),
                                                               (200, 100)]
    resize, crop = namespace['train_dataloader']['dataset']['pipeline']
    assert resize['scales'] == [(200, 80), (200, 100)]
    assert crop['crop_size'] == (60, 60)


def test_det_settings_reach_everything(tmp_path):
    cfg = Config.fromfile(det_child(tmp_path, 'data/mine/'))
    roi = cfg.model.roi_head
    assert roi.bbox_head.num_classes == roi.mask_head.num_classes == 2
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.data_root == 'data/mine/'
        assert tuple(dataset.metainfo.classes) == DET_CLASSES
        assert [tuple(t.scale) for t in dataset.pipeline
                if t.type == 'Resize'] == [(96, 64)]
    assert cfg.test_evaluator.ann_file == \
        'data/mine/annotations/instances_val2017.json'


def test_evaluators_follow_the_loaders_annotation_files(tmp_path):
    """docs/custom_dataset.md: for another layout, set the dataloaders'
    ann_file above the call. The COCO evaluators kept the base's
    annotations/instances_val2017.json under the new root, which does not
    exist there (errors.md row 93 once training was started)."""
    layout = ("val_dataloader = dict(dataset=dict(ann_file='ann/val.json'))\n"
              "test_dataloader = dict(dataset=dict(ann_file='ann/test.json'))"
              "\napply_data_settings(globals())\n")
    cfg = Config.fromfile(write(tmp_path / 'child.py', SETTINGS.format(
        root=ROOT, base='hat_net/retinanet_hat-net-tiny_fpn_1x_coco.py',
        data='data/mine/', classes=DET_CLASSES, scale=(96, 64),
        extra=layout)))
    assert cfg.val_evaluator.ann_file == 'data/mine/ann/val.json'
    assert cfg.test_evaluator.ann_file == 'data/mine/ann/test.json'
    # an evaluator file of the child's own is kept
    cfg = Config.fromfile(write(tmp_path / 'own.py', SETTINGS.format(
        root=ROOT, base='hat_net/retinanet_hat-net-tiny_fpn_1x_coco.py',
        data='data/mine/', classes=DET_CLASSES, scale=(96, 64),
        extra="val_evaluator = dict(ann_file='elsewhere/gt.json')\n" +
        layout)))
    assert cfg.val_evaluator.ann_file == 'elsewhere/gt.json'


@pytest.mark.slow
def test_seg_child_trains_tests_and_infers(tmp_path):
    data = make_ade20k(str(tmp_path / 'data'), num_train=2, num_val=2,
                       size=(32, 48), num_classes=3)
    config = seg_child(tmp_path, data)
    work_dir = tmp_path / 'work'
    run_tool('train.py', config, '--work-dir', work_dir)
    checkpoint = str(work_dir / 'iter_2.pth')
    shutil.rmtree(osp.join(data, 'images', 'training'))
    shutil.rmtree(osp.join(data, 'annotations', 'training'))
    show, out = tmp_path / 'show', tmp_path / 'out'
    run_tool('test.py', config, checkpoint, '--work-dir', work_dir,
             '--show-dir', show, '--out', out)
    assert 'mIoU' in logged_metrics(work_dir)
    names = sorted(p.name for p in out.iterdir())
    assert names == ['ADE_val_00000001.png', 'ADE_val_00000002.png']
    label_map = mmcv.imread(str(out / names[0]), flag='unchanged')
    assert label_map.shape == (32, 48)
    # as stored by ADE20K: class k as k + 1
    assert set(np.unique(label_map)) <= {1, 2, 3, 4}
    picture = mmcv.imread(str(show / names[0]))
    # enlarged to 256 rows: image | overlay, and a legend column
    assert picture.shape[0] >= 256 and picture.shape[1] > 2 * 48 * 8

    inferencer = build_inferencer(load_inference_config(config), checkpoint,
                                  'cpu')
    image = osp.join(data, 'images', 'validation', 'ADE_val_00000001.jpg')
    written = infer_image(inferencer, image, str(tmp_path / 'infer'))
    assert mmcv.imread(written['png']).shape == picture.shape


@pytest.mark.slow
def test_det_child_trains_tests_and_infers(tmp_path):
    data = make_coco(str(tmp_path / 'data'), num_train=2, num_val=1,
                     size=(64, 64), num_classes=2) + '/'
    config = det_child(tmp_path, data)
    work_dir = tmp_path / 'work'
    run_tool('train.py', config, '--work-dir', work_dir)
    checkpoint = str(work_dir / 'epoch_1.pth')
    shutil.rmtree(osp.join(data, 'train2017'))
    show = tmp_path / 'show'
    run_tool('test.py', config, checkpoint, '--work-dir', work_dir,
             '--show-dir', show, '--score-thr', '0.0')
    assert 'coco/bbox_mAP' in logged_metrics(work_dir)
    picture = mmcv.imread(str(show / '000000000001.png'))
    assert picture.shape[0] >= 256

    inferencer = build_inferencer(load_inference_config(config), checkpoint,
                                  'cpu')
    image = osp.join(data, 'val2017', '000000000001.jpg')
    written = infer_image(inferencer, image, str(tmp_path / 'infer'),
                          score_thr=0.0)
    assert mmcv.imread(written['png']).shape == picture.shape


def test_settings_that_cannot_apply_are_refused():
    base = Config(dict(model=dict(head=dict(num_classes=9)))).to_dict()
    with pytest.raises(ConfigError, match='num_classes=3 but 2 classes'):
        apply_data_settings(dict(_base_=base, classes=('a', 'b'),
                                 num_classes=3))
    with pytest.raises(ConfigError, match='no top-level scale'):
        apply_data_settings(dict(_base_=base, scale=(64, 64)))
    # ('balloon') is a string: before, 7 one-letter classes
    with pytest.raises(ConfigError, match=re.escape(
            "classes = 'balloon' is a string, which would make 7 classes "
            "('b', 'a', 'l', ...): write one class as ('balloon', ), with "
            'the comma')):
        apply_data_settings(dict(_base_=base, classes=('balloon')))
    # before: TypeError: 'int' object is not iterable
    sized = dict(base, scale=(2048, 512), crop_size=(512, 512))
    for key, value in (('scale', 1024), ('crop_size', [256, 256, 3])):
        with pytest.raises(ConfigError, match=re.escape(
                f'{key} = {value!r} is not a pair of whole numbers like the '
                f"base's {sized[key]!r}")):
            apply_data_settings({'_base_': sized, key: value})


# a config of each family (segmentation with and without auxiliary heads,
# sliding-window test and ViT position embeddings; RetinaNet and Mask R-CNN,
# multi-scale training; ADE20K, Cityscapes, Pascal Context and COCO bases):
# a child setting classes, scale and crop leaves no old value behind
FAMILY_CONFIGS = [
    'hat_net/retinanet_hat-net-tiny_fpn_1x_coco.py',
    'clustr/upernet_clustr-small_8xb2-160k_ade20k-512x512.py',
    'hlg/upernet_hlg-small_8xb1-40k_cityscapes-768x768.py',
    'hlg/mask-rcnn_hlg-tiny_fpn_1x_coco.py',
    'setr/setr_vit-l-mla_8xb2-80k_pascal-context-480x480.py',
]


def values_of(node, key):
    """Every value of ``key`` in the nested dicts and lists of ``node``."""
    if isinstance(node, dict):
        return ([node[key]] if key in node else []) + [
            v for child in node.values() for v in values_of(child, key)]
    if isinstance(node, (list, tuple)):
        return [v for child in node for v in values_of(child, key)]
    return []


@pytest.mark.parametrize('config', FAMILY_CONFIGS)
def test_every_family_takes_the_settings(tmp_path, config):
    seg = 'coco' not in config
    child = SETTINGS.format(
        root=ROOT, base=config, data='data/mine/', classes=SEG_CLASSES,
        scale=(128, 64), extra='crop_size = (64, 64)\n' if seg else '')
    cfg = Config.fromfile(write(tmp_path / 'child.py',
                                child + 'apply_data_settings(globals())\n'))
    assert set(values_of(cfg.model, 'num_classes')) == {4}
    data = [cfg[k] for k in cfg if k.endswith(('_pipeline', '_dataloader'))]
    assert set(values_of(data, 'num_classes')) <= {4}
    assert set(values_of(data, 'data_root')) == {'data/mine/'}
    assert {tuple(c) for c in values_of(data, 'classes')} == {SEG_CLASSES}
    # every resize at the new scale, test-time ones up to 1.75 times
    scales = values_of(data, 'scale') + sum(values_of(data, 'scales'), [])
    assert scales and max(max(s) for s in scales) <= 1.75 * 128
    if seg:
        assert {tuple(s) for s in values_of(data, 'crop_size')} == {(64, 64)}
        sizes = values_of(cfg.model, 'size') + values_of(
            cfg.model, 'img_size') + values_of(cfg.model, 'crop_size')
        assert {tuple(s) for s in sizes} == {(64, 64)}
