"""Small datasets in the layouts of the custom-dataset templates
(``configs/_base_/custom/``), and tiny-model overrides for CPU tests.

Shape class ``c`` (0-based, of ``SHAPE_CLASSES``) is the template class
``c + 1`` for segmentation (0 is the background) and class ``c`` for
detection and classification.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

from mmhvit.datasets import SHAPE_CLASSES, render_scene
from helpers import ROOT
from tiny_archs import TINY_HAT_NET

TEMPLATES = osp.join(ROOT, 'configs', '_base_', 'custom')
NUM_SHAPES = 3  # circle, square, triangle: the templates' example classes
TINY_BACKBONE = f"""
    backbone=dict(arch=dict(_delete_=True, **{TINY_HAT_NET!r}), init_cfg=None,
                  drop_path_rate=0.0),"""
LOADERS = """
train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True)
val_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True)
test_dataloader = val_dataloader
randomness = dict(seed=0)
log_level = 'WARNING'
"""
# mmdet's test pipeline at a CPU-friendly scale
DET_TEST_PIPELINE = """
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))]))
"""
#: children of the templates with a tiny backbone and heads, a few iterations
TINY_CONFIGS = dict(
    seg=f"""
_base_ = '{TEMPLATES}/fpn_hat-net-tiny_custom-seg.py'
model = dict({TINY_BACKBONE}
    neck=dict(in_channels=[16, 32, 48, 64], out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=32, dropout_ratio=0.0))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=4,
                        by_epoch=False)]
train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
{LOADERS}""",
    det=f"""
_base_ = '{TEMPLATES}/retinanet_hat-net-tiny_fpn_custom-det.py'
model = dict({TINY_BACKBONE}
    neck=dict(in_channels=[16, 32, 48, 64], out_channels=32),
    bbox_head=dict(in_channels=32, feat_channels=32, stacked_convs=1),
    test_cfg=dict(score_thr=0.0, max_per_img=5))
{LOADERS}{DET_TEST_PIPELINE}""",
    cls=f"""
_base_ = '{TEMPLATES}/hat-net-tiny_custom-cls.py'
model = dict(
    backbone=dict(arch=dict(_delete_=True, **{TINY_HAT_NET!r}),
                  drop_path_rate=0.0),
    head=dict(in_channels=64))
{LOADERS}""")


def write_tiny_config(directory, task):
    """Write the tiny child of the ``task`` template; returns its path."""
    path = osp.join(str(directory), f'tiny_{task}.py')
    with open(path, 'w') as f:
        f.write(TINY_CONFIGS[task])
    return path


def make_custom_seg(root, num_train=16, num_val=2, size=64, seed=0):
    """``root/{img_dir,ann_dir}/{train,val}/NNNN.{jpg,png}``, labels 0..3."""
    for split, num in (('train', num_train), ('val', num_val)):
        for i in range(num):
            rng = np.random.default_rng([seed, len(split), i])
            image, label, _ = render_scene(rng, size, size, NUM_SHAPES)
            _imwrite(osp.join(root, 'img_dir', split, f'{i:04d}.jpg'), image)
            _imwrite(osp.join(root, 'ann_dir', split, f'{i:04d}.png'), label)
    return root


def make_custom_det(root, num_train=2, num_val=2, size=96, seed=0):
    """``root/images/{train,val}/`` and COCO ``annotations/{split}.json``
    whose categories are the template's classes."""
    categories = [dict(id=c + 1, name=SHAPE_CLASSES[c])
                  for c in range(NUM_SHAPES)]
    for split, num in (('train', num_train), ('val', num_val)):
        images, annotations = [], []
        for i in range(num):
            rng = np.random.default_rng([seed, len(split), i])
            image, _, objects = render_scene(rng, size, size, NUM_SHAPES)
            name = f'{i:04d}.jpg'
            _imwrite(osp.join(root, 'images', split, name), image)
            images.append(dict(id=i + 1, file_name=name, height=size,
                               width=size))
            annotations += [_coco_box(obj, len(annotations) + k + 1, i + 1)
                            for k, obj in enumerate(objects)]
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)
    return root


def make_custom_cls(root, per_class=2, size=64, seed=0):
    """``root/{train,val}/<class name>/N.jpg``, one large shape each."""
    for split in ('train', 'val'):
        for c in range(NUM_SHAPES):
            for i in range(per_class):
                rng = np.random.default_rng([seed, len(split), c, i])
                image, _, _ = render_scene(rng, size, size, NUM_SHAPES,
                                           classes=[c], scales=[(0.5, 0.8)])
                _imwrite(osp.join(root, split, SHAPE_CLASSES[c], f'{i}.jpg'),
                         image)
    return root


def _coco_box(obj, ann_id, image_id):
    (x0, y0), (x1, y1) = obj['polygon'].min(0), obj['polygon'].max(0)
    return dict(id=ann_id, image_id=image_id,
                category_id=obj['class_idx'] + 1, iscrowd=0,
                bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                area=float((x1 - x0) * (y1 - y0)))


def _imwrite(path, image):
    os.makedirs(osp.dirname(path), exist_ok=True)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(path, image), path
