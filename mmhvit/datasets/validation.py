"""Checks of datasets and samples, naming the files at fault: the one
home of mmhvit's data validation.

A dataset with a few broken files should fail with the file's path, not
with a traceback from inside a decoder or, worse, train on garbage. The
rules live here; they run

* per sample, in the loading transforms of :mod:`mmhvit.datasets.transforms`
  (so in every data-loader worker): :func:`check_seg_labels`;
* when a COCO dataset is built, in ``mmhvit.CheckedCocoDataset``
  (:mod:`mmhvit.datasets.coco`): :func:`check_coco_content`;
* once before training or testing, in ``mmhvit.engine.PreflightCheckHook``:
  :func:`check_dataset` (samples exist, COCO annotations of other dataset
  classes are well formed, the pipeline's label check agrees with the
  dataset's classes);
* before the runner is built, in ``tools/``: :func:`check_data_paths`;
* over a whole dataset, in ``tools/misc/scan_labels.py``:
  :mod:`mmhvit.datasets.label_scan`, with the same label rules
  (:func:`trained_label`, :func:`num_classes_disagreement`).
"""
import logging
import math
import os
import os.path as osp
from collections import Counter
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
from mmengine import fileio
from mmengine.logging import print_log

from mmhvit.utils import ConfigError

IGNORE_INDEX = 255
REDUCE_ZERO_LABEL_NOTE = (' after reduce_zero_label, which maps a file value '
                          'v to v - 1 and 0 to the ignore index')


class SampleError(RuntimeError):
    """A sample of a dataset cannot be loaded or holds invalid values."""


#: The starts of what libjpeg writes on stderr for a JPEG whose data it
#: decoded only in part; OpenCV and Pillow still return the image, garbled
#: or grey from the bad data on.
CORRUPT_IMAGE_MESSAGES = ('Corrupt JPEG data', 'Premature end of JPEG file')
#: The smallest side of an image or label map (mmseg's label loading and
#: the visualisers index a second row and column).
MIN_SIDE = 2


def check_decoder_messages(messages: Sequence[str], path: str) -> None:
    """Raise for an image whose decoder reported corrupt data in
    ``messages`` (what it wrote to stderr while decoding ``path``)."""
    corrupt = [line for line in messages
               if line.startswith(CORRUPT_IMAGE_MESSAGES)]
    if corrupt:
        raise SampleError(
            f'Image {path} is corrupt: its decoder reports {corrupt[0]!r} '
            'and returns the image garbled or grey from there on. Re-encode '
            'it from its source or remove it.')


def check_image(image: np.ndarray, path: str,
                annotated: Optional[Tuple[int, int]] = None) -> None:
    """A decoded image is at least :data:`MIN_SIDE` pixels a side and, if
    its annotation file states a size ``annotated`` (height, width), of
    that size (COCO's ``height`` / ``width``, which its boxes refer to).

    Raises:
        SampleError: naming the file and both sizes.
    """
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise SampleError(
            f'Image {path} is {height}x{width} pixels: images need at least '
            f'{MIN_SIDE} pixels a side. Remove it (or replace it by the '
            'real image).')
    if annotated is None or tuple(annotated) == (height, width):
        return
    rotated = (' (swapped: an EXIF orientation tag makes the decoder rotate '
               'it; strip the tag or annotate the rotated image)'
               if tuple(annotated) == (width, height) else '')
    raise SampleError(
        f'Image {path} is {height}x{width} pixels (height x width) but its '
        f'annotation file gives {annotated[0]}x{annotated[1]}{rotated}: its '
        'boxes and masks refer to another version of the image (resized '
        "after annotating?). Fix the entry's height / width and boxes, or "
        'use the annotated image.')


def check_label_encoding(head: bytes, path: str) -> None:
    """A label map is not stored as a JPEG (``head``: its first bytes),
    whose compression changes the class indices along every edge.

    Raises:
        SampleError: naming the file.
    """
    if head.startswith(b'\xff\xd8'):
        raise SampleError(
            f'Segmentation label {path} is a JPEG file: JPEG compression '
            'changes class indices along every edge, silently. Save label '
            'maps losslessly (PNG) from their source.')


def trained_label(value: int, reduce_zero_label: bool = False,
                  label_map: Optional[Dict[int, int]] = None,
                  ignore_index: int = IGNORE_INDEX) -> int:
    """The label training sees for a value stored in a label map, as mmseg's
    ``LoadAnnotations`` maps it (with ``reduce_zero_label``, 0 and the
    ignore index both become the ignore index)."""
    if reduce_zero_label:
        value = ignore_index if value in (0, ignore_index) else value - 1
    if label_map:
        value = label_map.get(value, value)
    return value


def out_of_range(values: np.ndarray, num_classes: int,
                 ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """The labels of ``values`` outside ``[0, num_classes)`` that are not
    the ignore index."""
    return values[(values >= num_classes) & (values != ignore_index)]


def check_seg_labels(labels: np.ndarray, path: str,
                     image_shape: Optional[Sequence[int]] = None,
                     num_classes: Optional[int] = None,
                     ignore_index: int = IGNORE_INDEX,
                     reduce_zero_label: bool = False) -> None:
    """A loaded label map (after ``reduce_zero_label`` and ``label_map``)
    is a single-channel map, at least 2 pixels a side, of its image's size
    ``image_shape`` (H, W), with values in ``[0, num_classes)`` or
    ``ignore_index``.

    Raises:
        SampleError: naming the file and what is wrong.
    """
    if labels.ndim == 3:
        raise SampleError(
            f'Segmentation label {path} has {labels.shape[-1]} channels: '
            'labels must be single-channel maps of class indices (0..'
            'num_classes-1, the ignore index for unlabelled pixels), not '
            'colour images. Map each colour to its class index.')
    if labels.ndim != 2:
        raise SampleError(
            f'Segmentation label {path} has a side of 1 pixel (mmseg loads '
            f'it as shape {labels.shape}): labels and images need at least '
            f'{MIN_SIDE} pixels a side.')
    if image_shape is not None and tuple(labels.shape) != tuple(
            image_shape[:2]):
        raise SampleError(
            f'Segmentation label {path} is {labels.shape[0]}x'
            f'{labels.shape[1]} pixels but its image is {image_shape[0]}x'
            f'{image_shape[1]}: every label map must have the size of its '
            'image (a label of another image, or a resized one).')
    if num_classes is None or labels.max(initial=0) < num_classes:
        return
    bad = out_of_range(np.unique(labels), num_classes, ignore_index)
    if len(bad):
        reduced = REDUCE_ZERO_LABEL_NOTE if reduce_zero_label else ''
        raise SampleError(
            f'Segmentation label {path} holds values {bad.tolist()}'
            f'{reduced}, outside the {num_classes} classes (valid: 0..'
            f'{num_classes - 1} and the ignore index {ignore_index}). Fix the '
            "labels or the dataset's classes / reduce_zero_label.")


def num_classes_disagreement(found: Dict[str, int],
                             classes: Optional[Sequence[str]] = None,
                             dataset: str = 'the dataset') -> Optional[str]:
    """A sentence saying which of the heads' ``num_classes`` (``found``:
    head name -> value) and the dataset's ``classes`` disagree, or None."""
    values = set(found.values()) | ({len(classes)} if classes else set())
    if len(values) <= 1:
        return None
    heads = ', '.join(f'{name}={value}' for name, value in found.items())
    data = f'; {dataset} has {len(classes)} classes' if classes else ''
    return f'num_classes disagree: {heads}{data}'


def leaf_datasets(dataset) -> Iterator:
    """``dataset`` itself, or the datasets inside its wrappers
    (``RepeatDataset``, ``ConcatDataset``, ``ClassBalancedDataset``)."""
    inner = getattr(dataset, 'datasets', None) or (
        [dataset.dataset] if hasattr(dataset, 'dataset') else None)
    if inner is None:
        yield dataset
        return
    for child in inner:
        yield from leaf_datasets(child)


def metainfo_classes(dataset) -> Optional[Sequence[str]]:
    """The ``classes`` of a dataset's metainfo, if it has any."""
    return (getattr(dataset, 'metainfo', None) or {}).get('classes')


def check_dataset(dataset, role: str) -> None:
    """Raise for a dataset without samples, with invalid COCO-style
    annotations or class labels outside its classes, or whose pipeline
    checks labels against another number of classes; log annotations that
    mmdet would silently drop.

    Args:
        dataset: A built dataset (wrappers included).
        role (str): ``'train'``, ``'val'`` or ``'test'``, for messages.
    """
    for leaf in leaf_datasets(dataset):
        if len(leaf) == 0:
            raise SampleError(no_samples(leaf, role))
        ann_file = getattr(leaf, 'ann_file', '')
        if isinstance(ann_file, str) and ann_file.endswith('.json') and \
                not getattr(leaf, 'annotations_checked', False):
            check_coco_annotations(ann_file, f'{role} dataset',
                                   metainfo_classes(leaf))
        check_label_transform(leaf, role)
        check_class_labels(leaf, role)


def check_class_labels(dataset, role: str) -> None:
    """The class labels of a classification dataset (mmpretrain's
    ``get_gt_labels``) lie in ``[0, len(classes))``; otherwise the loss
    fails with ``IndexError: Target 7 is out of bounds`` (a device-side
    assert on CUDA) once such a sample is drawn.

    Raises:
        SampleError: naming the dataset, its annotation file, the labels and
            a sample that carries one.
    """
    classes = metainfo_classes(dataset)
    if not classes or not hasattr(dataset, 'get_gt_labels'):
        return
    labels, count = dataset.get_gt_labels(), len(classes)
    if labels.dtype == object:  # multi-label: a list of labels a sample
        bad = [i for i, x in enumerate(labels)
               if not ((np.asarray(x) >= 0) & (np.asarray(x) < count)).all()]
    else:  # vectorised: ImageNet has 1.28 million samples
        outside = (labels < 0) | (labels >= count)
        bad = np.flatnonzero(outside.reshape(len(labels), -1).any(1)).tolist()
    if bad:
        values = sorted({int(v) for i in bad for v in np.atleast_1d(labels[i])
                         if not 0 <= v < count})
        example = dataset.get_data_info(bad[0]).get('img_path')
        raise SampleError(
            f'{len(bad)} samples of the {role} dataset '
            f'{type(dataset).__name__} (ann_file '
            f'{getattr(dataset, "ann_file", None)!r}) have labels '
            f'{values[:10]} outside its {len(classes)} classes (valid: 0..'
            f'{len(classes) - 1}), e.g. {example}. Fix the labels or the '
            "dataset's classes (metainfo).")


def check_label_transform(dataset, role: str) -> None:
    """The ``num_classes`` of a label-checking transform in the dataset's
    pipeline equals the dataset's number of classes.

    Raises:
        ConfigError: naming both numbers.
    """
    classes = metainfo_classes(dataset)
    for transform in getattr(getattr(dataset, 'pipeline', None),
                             'transforms', []):
        num_classes = getattr(transform, 'num_classes', None)
        if classes and num_classes is not None and \
                num_classes != len(classes):
            raise ConfigError(
                f'The {role} pipeline checks labels against num_classes='
                f'{num_classes} ({type(transform).__name__}), but the dataset '
                f'{type(dataset).__name__} has {len(classes)} classes. Set '
                f'num_classes={len(classes)} in the pipeline (as in the '
                'heads).')


def no_samples(dataset, role: str = '') -> str:
    """The message for a dataset without samples; what to check depends
    on whether an annotation file (COCO) or file names list the samples."""
    ann_file = getattr(dataset, 'ann_file', None)
    if isinstance(ann_file, str) and ann_file.endswith('.json'):
        check = ("its 'images' and 'annotations', and filter_cfg "
                 '(filter_empty_gt=True drops every image without an '
                 'annotation of metainfo.classes; min_size drops small ones)')
    else:
        check = ('these paths, the file suffixes the dataset expects '
                 '(img_suffix, seg_map_suffix) and its filter_cfg')
    return (f'The {role + " " if role else ""}dataset '
            f'{type(dataset).__name__} has no samples (data_root '
            f'{getattr(dataset, "data_root", None)!r}, data_prefix '
            f'{getattr(dataset, "data_prefix", None)}, ann_file '
            f'{ann_file!r}): check {check}.')


def check_coco_annotations(ann_file: str, role: str = 'dataset',
                           classes: Optional[Sequence[str]] = None) -> None:
    """:func:`check_coco_content` (and, given the dataset's ``classes``,
    :func:`check_coco_classes`) of a COCO-format file, read again (for
    datasets other than ``mmhvit.CheckedCocoDataset``, which checks what it
    parses), a one-off cost before the first iteration."""
    content = fileio.load(ann_file)
    check_coco_content(content, f'{ann_file} ({role})')
    if classes:
        check_coco_classes(content.get('categories', []), classes, ann_file)


def check_coco_content(content, source: str) -> None:
    """Raise for a COCO-format annotation dict without an ``images`` list,
    or with annotations that are malformed, not finite, of negative size,
    entirely outside their image, or name an image or category the file does
    not list, naming the image ids; log those mmdet drops without a word
    (empty boxes, polygons of fewer than three points or an odd number of
    coordinates).

    Args:
        content: The loaded JSON.
        source (str): The file (and role) for messages.

    Raises:
        SampleError: naming the file, the problem and the image ids.
    """
    if not isinstance(content, dict) or not isinstance(
            content.get('images'), list):
        keys = sorted(content) if isinstance(content, dict) else \
            type(content).__name__
        raise SampleError(
            f"{source} has no 'images' list (found {keys}): it is not a COCO "
            "instances file, which holds 'images', 'annotations' and "
            "'categories'.")
    images = {image.get('id'): image for image in content['images']}
    if len(images) < len(content['images']):
        ids = Counter(image.get('id') for image in content['images'])
        raise SampleError(
            f"{source} lists image ids "
            f"{[i for i, n in ids.items() if n > 1][:10]} more than once in "
            "'images': mmdet would merge their annotations into one sample. "
            'Give every image its own id.')
    categories = {category.get('id')
                  for category in content.get('categories', [])}
    errors, dropped = [], []
    for ann in content.get('annotations', []):
        problem = annotation_problem(ann, images, categories)
        if problem:
            fatal, text = problem
            (errors if fatal else dropped).append(
                f"image id {ann.get('image_id')}: {text}")
    if dropped:
        print_log(
            f'{len(dropped)} annotations of {source} are empty or have '
            f'invalid polygons, which mmdet ignores: {dropped[:5]}',
            logger='current', level=logging.WARNING)
    if errors:
        raise SampleError(
            f'{len(errors)} annotations of {source} are invalid: '
            f'{errors[:5]}. Fix or remove them.')


def check_coco_classes(categories: Sequence[dict], classes: Sequence[str],
                       source: str) -> None:
    """Every class of the dataset's ``metainfo.classes`` is a category
    name of the COCO file; log the file's categories that mmdet drops
    because they are not classes.

    mmdet maps classes to categories by name and silently drops every
    annotation of another category, so a misspelt class trains on no boxes.

    Raises:
        SampleError: naming the classes that are no category.
    """
    names = [category.get('name') for category in categories]
    unknown = [name for name in classes if name not in names]
    if unknown:
        raise SampleError(
            f'The classes {unknown[:10]} of the dataset (metainfo.classes) '
            f'are not categories of {source} (its categories: {names[:10]}'
            f'{" ..." if len(names) > 10 else ""}): mmdet would find no box '
            "of them. Use the file's category names.")
    dropped = [name for name in names if name not in classes]
    if dropped:
        print_log(
            f'{len(dropped)} categories of {source} are not classes of the '
            f'dataset and mmdet ignores their annotations: {dropped[:10]}',
            logger='current', level=logging.WARNING)


def annotation_problem(ann: dict, images: Optional[dict] = None,
                       categories: Optional[set] = None
                       ) -> Optional[Tuple[bool, str]]:
    """``(fatal, description)`` of what is wrong with a COCO annotation,
    or None. ``images`` (id -> image entry) and ``categories`` (ids), when
    given, are the file's."""
    if images is not None and ann.get('image_id') not in images:
        return True, (f"annotation {ann.get('id')} names an image id that is "
                      "not in 'images'")
    if categories is not None and ann.get('category_id') not in categories:
        return True, (f"category_id {ann.get('category_id')} is not in "
                      f"'categories' (ids {sorted(categories)[:10]})")
    bbox = ann.get('bbox')
    if bbox is not None:
        problem = _bbox_problem(bbox, (images or {}).get(ann.get('image_id')))
        if problem:
            return problem
    segmentation = ann.get('segmentation')
    for polygon in segmentation if isinstance(segmentation, list) else []:
        if not all(isinstance(v, (int, float)) and math.isfinite(v)
                   for v in polygon):
            return True, f'polygon {polygon} is not finite numbers'
        if len(polygon) < 6 or len(polygon) % 2:
            return False, (f'polygon {polygon} has {len(polygon)} '
                           'coordinates (needs an even number, at least 6)')
    return None


def _bbox_problem(bbox, image: Optional[dict]) -> Optional[Tuple[bool, str]]:
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in bbox):
        return True, f'bbox {bbox} is not 4 finite numbers [x, y, w, h]'
    x, y, w, h = bbox
    if w < 0 or h < 0:
        return True, f'bbox {bbox} has a negative width or height'
    width, height = (image or {}).get('width'), (image or {}).get('height')
    if width and height and (x >= width or y >= height or x + w <= 0
                             or y + h <= 0):
        return True, (f'bbox {bbox} lies outside its {width}x{height} image '
                      '(mmdet would drop it silently)')
    if w == 0 or h == 0:
        return False, f'bbox {bbox} is empty'
    return None


def check_data_paths(cfg, *dataloaders: str) -> None:
    """The local ``data_root``, ``ann_file`` and ``data_prefix`` paths of
    the datasets of ``dataloaders`` (e.g. ``'train_dataloader'``) of the
    config ``cfg`` exist.

    Raises:
        FileNotFoundError: naming the setting and the missing path.
    """
    for key in dataloaders:
        if cfg.get(key) is not None:
            for where, dataset in _dataset_cfgs(cfg[key].dataset,
                                                f'{key}.dataset'):
                _check_dataset_paths(dataset, where)


def _dataset_cfgs(dataset, where):
    """``(config key, dataset cfg)`` of the datasets inside wrappers."""
    if 'dataset' in dataset:
        yield from _dataset_cfgs(dataset['dataset'], f'{where}.dataset')
    elif 'datasets' in dataset:
        for i, child in enumerate(dataset['datasets']):
            yield from _dataset_cfgs(child, f'{where}.datasets[{i}]')
    else:
        yield where, dataset


def _check_dataset_paths(dataset, where: str) -> None:
    root = dataset.get('data_root') or ''
    if '://' in root or dataset.get('backend_args'):
        return
    if root and not osp.isdir(root):
        raise FileNotFoundError(
            f'{where}.data_root {root!r} does not exist (working directory '
            f'{os.getcwd()}). Put the dataset there or pass '
            f'--cfg-options {where}.data_root=PATH.')
    prefix = dataset.get('data_prefix') or {}
    paths = [('ann_file', dataset.get('ann_file'))] + [
        (f'data_prefix.{name}', path) for name, path in (
            prefix.items() if isinstance(prefix, dict) else [('', prefix)])]
    for name, path in paths:
        if isinstance(path, str) and path and '://' not in path:
            full = osp.join(root, path)
            if not osp.exists(full):
                raise FileNotFoundError(
                    f'{where}.{name.rstrip(".")} {path!r} does not exist '
                    f'under data_root {root!r} ({full}).')
