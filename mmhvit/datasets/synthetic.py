"""Deterministic synthetic datasets in the on-disk layouts of real benchmarks.

Every image is a textured background with a few non-overlapping, textured
geometric shapes (:data:`SHAPE_CLASSES`). A shape class is recognisable both by
its outline and by its hue (:data:`SHAPE_HUES`, jittered per object), so the
tasks are learnable by a small model yet not trivial. One renderer,
:func:`render_scene`, draws all images; the writers only differ in how they
store them:

* :func:`make_ade20k`: ``ADEChallengeData2016`` for ``mmseg.ADE20KDataset``.
* :func:`make_cityscapes`: ``leftImg8bit``/``gtFine`` for
  ``mmseg.CityscapesDataset``.
* :func:`make_coco`: ``instances_{train,val}2017.json`` for
  ``mmdet.CocoDataset`` (boxes and polygon masks).
* :func:`make_imagenet`: ``train/<wnid>/``, ``val/`` and ``meta/*.txt`` for
  ``mmpretrain.ImageNet``.

Shape class ``c`` (0-based) is stored as ADE value ``c + 2`` (ADE class
``c + 1``), Cityscapes trainId ``c + 1``, the ``c``-th COCO category and the
``c``-th ImageNet class. The same seed and arguments give byte-identical files
(on one machine and OpenCV build): each image draws from its own generator
seeded by ``(seed, dataset, split, index)``.

Coordinates: polygons are in continuous image coordinates (COCO convention),
pixel ``(row i, col j)`` covers ``[j, j + 1) x [i, i + 1)``; vertices lie on a
1/16 pixel grid. An object's mask, label and texture cover exactly the pixels
whose centre is inside its polygon, the rasterisation that COCO polygons imply
(``cv2.fillPoly`` would also fill boundary-touching pixels, about 1 px more).
"""
import json
import os
import os.path as osp
import zlib

import cv2
import numpy as np

#: Names of the shape classes, in class-index order.
SHAPE_CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'hexagon')
#: Mean hue of each shape class in degrees (red, green, blue, yellow, ...).
SHAPE_HUES = (0.0, 120.0, 240.0, 60.0, 300.0, 180.0)

#: The 80 COCO categories: names (mmdet ``CocoDataset`` order) and real ids.
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush')
COCO_CATEGORY_IDS = tuple(
    i for i in range(1, 91)
    if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
_COCO_SUPERCATEGORIES = (  # (name, number of consecutive categories)
    ('person', 1), ('vehicle', 8), ('outdoor', 5), ('animal', 10),
    ('accessory', 5), ('sports', 10), ('kitchen', 7), ('food', 10),
    ('furniture', 6), ('electronic', 6), ('appliance', 5), ('indoor', 7))
#: WordNet ids of the first ImageNet-1k classes (labels 0, 1, ...).
IMAGENET_WNIDS = ('n01440764', 'n01443537', 'n01484850', 'n01491361',
                  'n01494475', 'n01496331', 'n01498041', 'n01514668')

_JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 95]
_MAX_TRIES = 50  # rejection-sampling attempts per object
_SCENE = dict(num_objects=(1, 4), scale=(0.15, 0.45))  # segmentation/COCO


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------
def _unit_shape(name):
    """Vertices (N, 2) of a shape centred at 0 with circumradius 1."""
    if name == 'cross':
        w = 0.35  # half-width of the arms
        pts = np.array([(w, 1), (w, w), (1, w), (1, -w), (w, -w), (w, -1),
                        (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w),
                        (-w, 1)], dtype=np.float64)
        return pts / np.hypot(1, w)
    n, inner = dict(circle=(32, 1.0), square=(4, 1.0), triangle=(3, 1.0),
                    star=(10, 0.45), hexagon=(6, 1.0))[name]
    ang = np.pi / 2 + 2 * np.pi * np.arange(n) / n
    rad = np.where(np.arange(n) % 2 == 1, inner, 1.0)
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)


def _lowfreq(rng, height, width, cells, channels=1):
    """Smooth random field in [0, 1] of shape (H, W, channels)."""
    grid = rng.random((cells, cells, channels)).astype(np.float32)
    field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(field.reshape(height, width, channels), 0, 1)


def _hsv_to_rgb(hsv):
    """(H, W, 3) float32 HSV (hue in degrees, s/v in [0, 1]) -> RGB [0, 1]."""
    hsv[..., 0] %= 360.0
    return cv2.cvtColor(np.clip(hsv, 0, [360, 1, 1]).astype(np.float32),
                        cv2.COLOR_HSV2RGB)


def _background(rng, height, width):
    """Two random muted colours mixed by smooth noise, plus stripes."""
    hsv = np.stack([rng.uniform(0, 360, 2), rng.uniform(0.05, 0.5, 2),
                    rng.uniform(0.25, 0.9, 2)], axis=1)  # (2, 3)
    rgb = _hsv_to_rgb(hsv[None].astype(np.float32))[0]  # (2, 3)
    t = _lowfreq(rng, height, width, int(rng.integers(2, 6)))  # (H, W, 1)
    img = rgb[0] * t + rgb[1] * (1 - t)  # (H, W, 3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phi = rng.uniform(0, np.pi)
    period = max(4.0, rng.uniform(0.04, 0.15) * min(height, width))
    stripes = np.sin(2 * np.pi * (xx * np.cos(phi) + yy * np.sin(phi))
                     / period + rng.uniform(0, 2 * np.pi))
    img += rng.uniform(0, 0.15) * stripes[..., None]
    return img + rng.normal(0, 0.03, img.shape)


def _object_texture(rng, height, width, class_idx):
    """Noisy texture (H, W, 3) in RGB [0, 1] around the class hue."""
    hue = SHAPE_HUES[class_idx] + rng.uniform(-12, 12)
    sat, val = rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0)
    noise = _lowfreq(rng, height, width, int(rng.integers(3, 9)), 2) - 0.5
    hsv = np.empty((height, width, 3), np.float32)
    hsv[..., 0] = hue + 16 * noise[..., 0]
    hsv[..., 1] = sat + 0.3 * noise[..., 1]
    hsv[..., 2] = val + 0.4 * noise[..., 1] + rng.normal(
        0, 0.06, (height, width))
    return _hsv_to_rgb(hsv)


def _rasterize(poly, height, width):
    """Mask (H, W) bool of the pixels whose centre lies inside `poly` (N, 2).

    Even-odd crossing test at pixel centres ``(j + 0.5, i + 0.5)`` within
    the polygon's bounding box. Unlike ``cv2.fillPoly``, which also fills
    pixels that an edge merely touches (about a 1 px ring), this is the
    rasterisation COCO polygons imply (pycocotools agrees up to rounding).
    """
    mask = np.zeros((height, width), bool)
    (x0, y0), (x1, y1) = np.floor(poly.min(0)), np.ceil(poly.max(0))
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5  # (h, w) pixel centres of bbox
    inside = np.zeros(ys.shape, bool)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        if ay == by:
            continue
        crosses = (ay > ys) != (by > ys)
        inside ^= crosses & (xs < ax + (bx - ax) * (ys - ay) / (by - ay))
    mask[int(y0):int(y1), int(x0):int(x1)] = inside
    return mask


def _place(rng, class_idx, scale, height, width, free):
    """Rejection-sample a polygon (N, 2) inside the image and `free` mask."""
    shape = _unit_shape(SHAPE_CLASSES[class_idx])
    for _ in range(_MAX_TRIES):
        r = 0.5 * rng.uniform(*scale) * min(height, width)
        theta = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(theta), -np.sin(theta)],
                        [np.sin(theta), np.cos(theta)]])
        center = rng.uniform([r + 1, r + 1], [width - r - 1, height - r - 1])
        poly = shape @ rot.T * r + center  # (N, 2) xy, continuous coords
        poly = np.round(poly * 16) / 16  # exact in float and in JSON
        mask = _rasterize(poly, height, width)  # (H, W) bool
        if mask.any() and not (mask & ~free).any():
            return poly, mask
    return None, None


def render_scene(rng, height, width, num_classes=4, classes=None,
                 scales=None, num_objects=(1, 4), scale=(0.15, 0.45)):
    """Render one image of textured, non-overlapping shapes.

    Args:
        rng (numpy.random.Generator): Source of all randomness.
        height (int): Image height H.
        width (int): Image width W.
        num_classes (int): Number of shape classes S to draw from (the first
            S of :data:`SHAPE_CLASSES`).
        classes (list[int], optional): Class index of each object to place,
            in placement order. Random (``num_objects`` many) if None.
        scales (list[tuple[float, float]], optional): Per-object range of the
            circumscribed diameter as a fraction of ``min(H, W)``. Defaults
            to ``scale`` for every object.
        num_objects (tuple[int, int]): Inclusive range of the object count
            when ``classes`` is None.
        scale (tuple[float, float]): Default diameter range.

    Returns:
        tuple: ``image`` (H, W, 3) uint8 RGB; ``label`` (H, W) uint8 with 0
        for background and ``c + 1`` for shape class ``c``; ``objects``, a
        list of dicts with ``class_idx`` (int), ``polygon`` ((N, 2) float xy
        vertices in continuous coordinates) and ``mask`` ((H, W) bool). The
        first object is always placed; a later one that finds no free spot
        after a number of tries is dropped.
    """
    if not 1 <= num_classes <= len(SHAPE_CLASSES):
        raise ValueError(f'num_classes must be in [1, {len(SHAPE_CLASSES)}]')
    if classes is None:
        n = int(rng.integers(num_objects[0], num_objects[1] + 1))
        classes = rng.integers(0, num_classes, n).tolist()
    scales = scales or [scale] * len(classes)
    image = _background(rng, height, width)  # (H, W, 3) float RGB
    label = np.zeros((height, width), np.uint8)
    free = np.ones((height, width), bool)  # 2 px clear of placed objects
    objects = []
    for class_idx, obj_scale in zip(classes, scales):
        poly, mask = _place(rng, class_idx, obj_scale, height, width, free)
        if poly is None:
            continue
        image[mask] = _object_texture(rng, height, width, class_idx)[mask]
        label[mask] = class_idx + 1
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
        free &= grown == 0
        objects.append(dict(class_idx=int(class_idx), polygon=poly, mask=mask))
    image = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    return image, label, objects


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------
def _image_rng(seed, dataset, split, index):
    """Generator for one image, independent of all other images."""
    tag = zlib.crc32(f'{dataset}/{split}'.encode())
    return np.random.default_rng([seed, tag, index])


def _imwrite(path, image):
    """Write an RGB (H, W, 3) or label (H, W) uint8 array; JPEG at q=95."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = _JPEG_PARAMS if path.lower().endswith(('.jpg', '.jpeg')) else []
    if not cv2.imwrite(path, image, params):
        raise OSError(f'could not write {path}')


def _splits(num_train, num_val):
    return (('train', num_train), ('val', num_val))


def make_ade20k(root, num_train=100, num_val=20, size=(256, 256),
                num_classes=4, seed=0):
    """Write an ADE20K-style semantic segmentation set.

    Layout under ``root/ADEChallengeData2016``::

        images/training/ADE_train_00000001.jpg        (RGB JPEG)
        images/validation/ADE_val_00000001.jpg
        annotations/training/ADE_train_00000001.png   (uint8, 1 channel)
        annotations/validation/ADE_val_00000001.png

    Labels as stored: 1 is the background (ADE class 0, 'wall'), ``c + 2``
    is shape class ``c`` (ADE class ``c + 1``); 0 ('other') is not used.
    ``ADE20KDataset`` with ``reduce_zero_label=True`` hence yields 0 for
    background and ``c + 1`` for shape ``c``.

    Args:
        root (str): Output directory.
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        size (tuple[int, int]): Image size (H, W).
        num_classes (int): Number of shape classes S.
        seed (int): Base seed.

    Returns:
        str: The ``data_root`` for a config (``root/ADEChallengeData2016``).
    """
    data_root = osp.join(root, 'ADEChallengeData2016')
    for split, num in _splits(num_train, num_val):
        folder = dict(train='training', val='validation')[split]
        for i in range(1, num + 1):
            image, label, _ = render_scene(
                _image_rng(seed, 'ade20k', split, i), *size, num_classes,
                **_SCENE)
            name = f'ADE_{split}_{i:08d}'
            _imwrite(osp.join(data_root, 'images', folder, name + '.jpg'),
                     image)
            _imwrite(osp.join(data_root, 'annotations', folder,
                              name + '.png'), label + 1)
    return data_root


def make_cityscapes(root, num_train=100, num_val=20, size=(256, 512),
                    num_classes=4, seed=0):
    """Write a Cityscapes-style semantic segmentation set.

    Layout under ``root`` (train city 'aachen', val city 'frankfurt')::

        leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png
        gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png
        leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png
        gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelTrainIds.png

    Labels (trainIds, uint8 single-channel PNG): 0 is the background
    ('road'), ``c + 1`` is shape class ``c``; 255 (ignore) is not used.

    Args:
        root (str): Output directory (the config's ``data_root``).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        size (tuple[int, int]): Image size (H, W).
        num_classes (int): Number of shape classes S.
        seed (int): Base seed.

    Returns:
        str: ``root``.
    """
    for split, num in _splits(num_train, num_val):
        city = dict(train='aachen', val='frankfurt')[split]
        for i in range(num):
            image, label, _ = render_scene(
                _image_rng(seed, 'cityscapes', split, i), *size, num_classes,
                **_SCENE)
            stem = osp.join(split, city, f'{city}_{i:06d}_000019')
            _imwrite(osp.join(root, 'leftImg8bit', stem + '_leftImg8bit.png'),
                     image)
            _imwrite(osp.join(root, 'gtFine',
                              stem + '_gtFine_labelTrainIds.png'), label)
    return root


def _polygon_area(poly):
    """Shoelace area of a (N, 2) polygon."""
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


def _coco_annotation(obj, ann_id, image_id):
    """COCO instance dict for one rendered object (polygon in COCO coords)."""
    poly = obj['polygon']  # (N, 2)
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    return dict(
        id=ann_id, image_id=image_id,
        category_id=COCO_CATEGORY_IDS[obj['class_idx']],
        segmentation=[[float(v) for v in poly.reshape(-1)]],
        area=_polygon_area(poly),
        bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        iscrowd=0)


def _coco_categories():
    supers = [s for s, n in _COCO_SUPERCATEGORIES for _ in range(n)]
    return [dict(id=i, name=n, supercategory=s)
            for i, n, s in zip(COCO_CATEGORY_IDS, COCO_CLASSES, supers)]


def make_coco(root, num_train=100, num_val=20, size=(256, 256), num_classes=4,
              seed=0):
    """Write a COCO-2017-style instance segmentation set.

    Layout under ``root``::

        train2017/000000000001.jpg                 (RGB JPEG, ids from 1)
        val2017/000000000001.jpg
        annotations/instances_train2017.json
        annotations/instances_val2017.json

    The JSON lists all 80 COCO categories with their real ids; shape class
    ``c`` is the ``c``-th of them (``person``, ``bicycle``, ``car``, ...).
    Each instance has one polygon (``[[x1, y1, x2, y2, ...]]``), its
    shoelace ``area``, its tight ``bbox`` ``[x, y, w, h]`` and
    ``iscrowd=0``. Objects never overlap and lie fully inside the image, so
    each polygon is exactly the drawn region; every image has >= 1 object.

    Args:
        root (str): Output directory (the config's ``data_root``).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        size (tuple[int, int]): Image size (H, W).
        num_classes (int): Number of shape classes S.
        seed (int): Base seed.

    Returns:
        str: ``root``.
    """
    for split, num in _splits(num_train, num_val):
        images, anns = [], []
        for image_id in range(1, num + 1):
            image, _, objects = render_scene(
                _image_rng(seed, 'coco', split, image_id), *size,
                num_classes, **_SCENE)
            file_name = f'{image_id:012d}.jpg'
            _imwrite(osp.join(root, f'{split}2017', file_name), image)
            images.append(dict(id=image_id, file_name=file_name,
                               height=size[0], width=size[1]))
            anns += [_coco_annotation(obj, len(anns) + k + 1, image_id)
                     for k, obj in enumerate(objects)]
        coco = dict(info=dict(description='mmhvit synthetic shapes'),
                    licenses=[], images=images, annotations=anns,
                    categories=_coco_categories())
        ann_file = osp.join(root, 'annotations', f'instances_{split}2017.json')
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
    return root


def make_imagenet(root, num_train=100, num_val=20, size=(128, 128),
                  num_classes=4, seed=0):
    """Write an ImageNet-style classification set (mmpretrain layout).

    Layout under ``root``::

        train/n01440764/n01440764_0.JPEG     (RGB JPEG)
        val/ILSVRC2012_val_00000001.JPEG
        meta/train.txt    lines '<wnid>/<file> <label>'
        meta/val.txt      lines '<file> <label>'

    Image ``i`` has label ``i % S``; class ``c`` uses wnid
    ``IMAGENET_WNIDS[c]`` (the real wnid of ImageNet-1k class ``c``), so
    labels agree with mmpretrain's ImageNet class order. Each image shows
    one large shape of its class (45-80 % of the image side) and up to two
    much smaller distractor shapes (8-14 %) of other classes.

    Args:
        root (str): Output directory (the config's ``data_root``).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        size (tuple[int, int]): Image size (H, W).
        num_classes (int): Number of shape classes S.
        seed (int): Base seed.

    Returns:
        str: ``root``.
    """
    for split, num in _splits(num_train, num_val):
        lines = []
        for i in range(num):
            rng = _image_rng(seed, 'imagenet', split, i)
            label = i % num_classes
            others = [c for c in range(num_classes) if c != label]
            distractors = (rng.choice(others, int(rng.integers(0, 3))).tolist()
                           if others else [])
            image, _, _ = render_scene(
                rng, *size, num_classes, classes=[label] + distractors,
                scales=[(0.45, 0.8)] + [(0.08, 0.14)] * len(distractors))
            wnid = IMAGENET_WNIDS[label]
            name = (f'{wnid}/{wnid}_{i}.JPEG' if split == 'train' else
                    f'ILSVRC2012_val_{i + 1:08d}.JPEG')
            _imwrite(osp.join(root, split, name), image)
            lines.append(f'{name} {label}\n')
        os.makedirs(osp.join(root, 'meta'), exist_ok=True)
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)
    return root


def dataset_classes(dataset, num_classes=4):
    """The class names the upstream dataset class gives the labels that a
    writer with ``num_classes`` shape classes stores, and the shape each
    one shows (``'background'`` for the segmentation background).

    Use them as ``metainfo=dict(classes=...)`` (and ``num_classes`` of the
    heads) to train on exactly these classes.

    Args:
        dataset (str): A key of :data:`WRITERS`.
        num_classes (int): Number of shape classes S.

    Returns:
        list[tuple[str, str]]: ``(class name, shape)`` in label order:
        S + 1 entries for ade20k and cityscapes (background first), S for
        coco and imagenet.
    """
    if dataset not in WRITERS:
        raise ValueError(f'Unknown synthetic dataset {dataset!r}; choose one '
                         f'of {sorted(WRITERS)}.')
    shapes = list(SHAPE_CLASSES[:num_classes])
    if dataset == 'coco':
        return list(zip(COCO_CLASSES, shapes))
    if dataset == 'imagenet':
        from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
        return list(zip(IMAGENET_CATEGORIES, shapes))
    if dataset == 'ade20k':  # as read with reduce_zero_label=True
        from mmseg.datasets import ADE20KDataset as Dataset
    else:
        from mmseg.datasets import CityscapesDataset as Dataset
    return list(zip(Dataset.METAINFO['classes'], ['background'] + shapes))


#: Writers by dataset name (used by ``tools/misc/make_synthetic_data.py``).
WRITERS = dict(ade20k=make_ade20k, cityscapes=make_cityscapes,
               coco=make_coco, imagenet=make_imagenet)
