"""Synthetic datasets load with the real upstream dataset classes."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmhvit.datasets.synthetic import (COCO_CATEGORY_IDS, IMAGENET_WNIDS,
                                       SHAPE_HUES, WRITERS, _rasterize,
                                       dataset_classes, render_scene)
from helpers import run_tool

NUM_TRAIN, NUM_VAL, S = 6, 3, 4
TINY = dict(num_train=NUM_TRAIN, num_val=NUM_VAL, size=(64, 96),
            num_classes=S)


def _read_tree(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


def _generate(tmp_path, dataset, **kwargs):
    """Generate twice with one seed and once with another; check bytes."""
    root = WRITERS[dataset](str(tmp_path / 'a'), **TINY, **kwargs)
    WRITERS[dataset](str(tmp_path / 'b'), **TINY, **kwargs)
    WRITERS[dataset](str(tmp_path / 'c'), **TINY, seed=1)
    tree_a = _read_tree(tmp_path / 'a')
    assert tree_a == _read_tree(tmp_path / 'b')
    tree_c = _read_tree(tmp_path / 'c')
    assert tree_a.keys() == tree_c.keys() and tree_a != tree_c
    return root


def _assert_hue(img_bgr, mask, class_idx):
    """Mean hue of the mask's interior is close to the class hue."""
    mask = cv2.erode(mask.astype(np.uint8), np.ones((3, 3))).astype(bool)
    if mask.sum() < 5:
        return
    hsv = cv2.cvtColor(img_bgr.astype(np.float32) / 255, cv2.COLOR_BGR2HSV)
    hue, sat = np.deg2rad(hsv[..., 0][mask]), hsv[..., 1][mask]
    mean = np.rad2deg(np.arctan2((sat * np.sin(hue)).sum(),
                                 (sat * np.cos(hue)).sum()))
    diff = (mean - SHAPE_HUES[class_idx] + 180) % 360 - 180
    assert abs(diff) < 25, (class_idx, mean)


def test_render_scene():
    for i in range(20):
        rng = np.random.default_rng(i)
        img, label, objects = render_scene(rng, 80, 120, num_classes=6)
        assert img.shape == (80, 120, 3) and img.dtype == np.uint8
        assert label.shape == (80, 120) and 1 <= len(objects) <= 4
        union = np.zeros(label.shape, int)
        for obj in objects:
            mask = obj['mask']
            union += mask
            assert (label[mask] == obj['class_idx'] + 1).all()
            assert (_rasterize(obj['polygon'], 80, 120) == mask).all()
            _assert_hue(img[..., ::-1], mask, obj['class_idx'])
        assert union.max() == 1  # no overlaps
        assert ((label > 0) == (union > 0)).all()
        again = render_scene(np.random.default_rng(i), 80, 120, 6)
        assert (again[0] == img).all() and (again[1] == label).all()


def _check_seg(dataset, num):
    assert len(dataset) == num
    for i in range(num):
        data = dataset[i]
        img, seg = data['img'], data['gt_seg_map']  # (H, W, 3) BGR, (H, W)
        assert img.shape == (64, 96, 3) and seg.shape == (64, 96)
        values = set(np.unique(seg).tolist())
        assert 0 in values and values <= set(range(S + 1)) and len(values) > 1
        for value in values - {0}:
            _assert_hue(img, seg == value, value - 1)


@pytest.mark.parametrize('split,folder,num',
                         [('train', 'training', NUM_TRAIN),
                          ('val', 'validation', NUM_VAL)])
def test_ade20k(tmp_path, split, folder, num):
    init_default_scope('mmseg')
    from mmseg.datasets import ADE20KDataset
    data_root = _generate(tmp_path, 'ade20k')
    assert data_root == str(tmp_path / 'a' / 'ADEChallengeData2016')
    raw = cv2.imread(osp.join(data_root, 'annotations', folder,
                              f'ADE_{split}_00000001.png'),
                     cv2.IMREAD_UNCHANGED)
    assert raw.ndim == 2 and raw.min() == 1 and raw.max() <= S + 1
    dataset = ADE20KDataset(
        data_root=data_root, reduce_zero_label=True,
        data_prefix=dict(img_path=f'images/{folder}',
                         seg_map_path=f'annotations/{folder}'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations')])
    _check_seg(dataset, num)


def test_cityscapes(tmp_path):
    init_default_scope('mmseg')
    from mmseg.datasets import CityscapesDataset
    data_root = _generate(tmp_path, 'cityscapes')
    for split, num in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        dataset = CityscapesDataset(
            data_root=data_root,
            data_prefix=dict(img_path=f'leftImg8bit/{split}',
                             seg_map_path=f'gtFine/{split}'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations')])
        _check_seg(dataset, num)


def _check_coco_sample(data, ann_areas):
    img = data['img']  # (H, W, 3) BGR
    masks = data['gt_masks'].masks.astype(bool)  # (K, H, W), pycocotools
    boxes = data['gt_bboxes'].numpy()  # (K, 4) x1y1x2y2
    labels = data['gt_bboxes_labels']  # (K,)
    assert len(labels) >= 1 and ((labels >= 0) & (labels < S)).all()
    assert masks.sum(0).max() == 1  # instances never overlap
    for mask, box, label, poly in zip(masks, boxes, labels,
                                      data['instances_polygons']):
        poly = np.array(poly).reshape(-1, 2)  # (N, 2) xy
        ours = _rasterize(poly, *mask.shape)  # pixel centres inside poly
        assert (mask & ours).sum() / (mask | ours).sum() > 0.9
        np.testing.assert_allclose(  # box is tight around the polygon
            box, [*poly.min(0), *poly.max(0)], atol=1e-3)
        ys, xs = np.nonzero(ours)
        assert box[0] <= xs.min() + .5 and xs.max() + .5 <= box[2]
        assert box[1] <= ys.min() + .5 and ys.max() + .5 <= box[3]
        assert abs(ann_areas.pop(0) - ours.sum()) <= 0.1 * ours.sum() + 4
        _assert_hue(img, ours, label)


def test_coco(tmp_path):
    init_default_scope('mmdet')
    from mmdet.datasets import CocoDataset
    data_root = _generate(tmp_path, 'coco')
    for split, num in (('train', NUM_TRAIN), ('val', NUM_VAL)):
        dataset = CocoDataset(
            data_root=data_root,
            ann_file=f'annotations/instances_{split}2017.json',
            data_prefix=dict(img=f'{split}2017/'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations', with_bbox=True,
                           with_mask=True)])
        assert len(dataset) == num
        assert dataset.cat_ids == list(COCO_CATEGORY_IDS)
        with open(osp.join(data_root, dataset.ann_file)) as f:
            coco = json.load(f)
        assert [c['name'] for c in coco['categories']] == list(
            CocoDataset.METAINFO['classes'])
        assert len({a['id'] for a in coco['annotations']}) == len(
            coco['annotations'])
        for i in range(num):
            info = dataset.get_data_info(i)
            areas = [a['area'] for a in coco['annotations']
                     if a['image_id'] == info['img_id']]
            data = dataset[i]
            data['instances_polygons'] = [
                inst['mask'][0] for inst in info['instances']]
            _check_coco_sample(data, areas)


def test_imagenet(tmp_path):
    init_default_scope('mmpretrain')
    from mmpretrain.datasets import ImageNet
    data_root = _generate(tmp_path, 'imagenet')
    train = ImageNet(data_root=data_root, split='train',
                     pipeline=[dict(type='LoadImageFromFile')])
    val = ImageNet(data_root=data_root, data_prefix='val',
                   ann_file='meta/val.txt',
                   pipeline=[dict(type='LoadImageFromFile')])
    assert (len(train), len(val)) == (NUM_TRAIN, NUM_VAL)
    for dataset in (train, val):
        labels = [int(dataset[i]['gt_label']) for i in range(len(dataset))]
        assert sorted(set(labels)) == list(range(min(S, len(dataset))))
        assert dataset[0]['img'].shape == (64, 96, 3)
    for i in range(NUM_TRAIN):
        info = train.get_data_info(i)
        wnid = osp.basename(osp.dirname(info['img_path']))
        assert wnid == IMAGENET_WNIDS[int(info['gt_label'])]


@pytest.mark.slow
@pytest.mark.parametrize('dataset', ['ade20k', 'coco'])
def test_printed_classes_are_the_ones_the_dataset_reads(tmp_path, dataset):
    """``make_synthetic_data.py`` prints the class names the upstream dataset
    class gives the labels it wrote (it printed the shape names, which
    CocoDataset does not know: "has no samples"); with them as
    ``metainfo.classes`` every image and label is kept."""
    result = run_tool('misc/make_synthetic_data.py', dataset, tmp_path,
                      '--num-train', 3, '--num-val', 0, '--size', 64, 64,
                      '--num-classes', 3)
    names = dataset_classes(dataset, 3)
    printed = [line.strip() for line in result.stdout.splitlines()
               if line.startswith('  ')]
    assert printed == [f'{label}: {name!r} ({shape})'
                       for label, (name, shape) in enumerate(names)]
    classes = tuple(name for name, _ in names)
    assert f'metainfo=dict(classes={classes})' in result.stdout
    init_default_scope('mmseg' if dataset == 'ade20k' else 'mmdet')
    if dataset == 'ade20k':
        assert classes == ('wall', 'building', 'sky', 'floor')
        from mmseg.datasets import ADE20KDataset
        built = ADE20KDataset(
            data_root=str(tmp_path / 'ADEChallengeData2016'),
            data_prefix=dict(img_path='images/training',
                             seg_map_path='annotations/training'),
            metainfo=dict(classes=classes), pipeline=[])
    else:
        assert classes == ('person', 'bicycle', 'car')
        from mmdet.datasets import CocoDataset
        built = CocoDataset(
            data_root=str(tmp_path), data_prefix=dict(img='train2017/'),
            ann_file='annotations/instances_train2017.json',
            metainfo=dict(classes=classes), pipeline=[])
    assert len(built) == 3 and built.metainfo['classes'] == classes
