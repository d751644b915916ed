"""Checks of the samples a dataset yields, naming the files at fault.

A dataset with a few broken files should fail with the file's path, not
with a traceback from inside a decoder or, worse, train on garbage:

* :class:`NamedErrorsCompose` runs a dataset's pipeline; any exception
  (an image or label that cannot be decoded, an empty file) is re-raised as
  a :class:`SampleError` naming the sample's files.
* :class:`CheckSegLabels`, inserted right after mmseg's ``LoadAnnotations``,
  rejects label values outside the dataset's classes (the ignore index is
  allowed), which otherwise surface as a CUDA device-side assert or an
  out-of-bounds error inside the loss.
* :func:`check_dataset` runs once before training or testing: a dataset
  without samples, and COCO-format boxes or polygons that are malformed,
  not finite or of negative size, are errors naming the image ids; boxes
  and polygons that mmdet silently drops (empty boxes, polygons of fewer
  than three points or an odd number of coordinates) are reported.

:func:`guard_dataset` installs the first two on a built dataset (and the
datasets inside wrappers); ``mmhvit.engine.PreflightCheckHook`` calls it and
:func:`check_dataset` for the dataloaders of a run.
"""
import logging
import math
from typing import Iterator, List, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmengine.dataset import Compose
from mmengine.logging import print_log

PATH_KEYS = ('img_path', 'seg_map_path')


class SampleError(RuntimeError):
    """A sample of a dataset cannot be loaded or holds invalid values."""


class NamedErrorsCompose(Compose):
    """mmengine's ``Compose``; an exception names the sample's files."""

    def __call__(self, data: dict):
        files = {key: data[key] for key in PATH_KEYS if data.get(key)}
        try:
            return super().__call__(data)
        except SampleError:
            raise
        except Exception as error:
            raise SampleError(
                f'Loading the sample {files} failed: {type(error).__name__}: '
                f'{error}') from error


class CheckSegLabels(BaseTransform):
    """Reject segmentation labels outside ``[0, num_classes)`` other than
    ``ignore_index``.

    Args:
        num_classes (int): Classes of the dataset.
        ignore_index (int): Label value excluded from the loss.
        dataset (str): Dataset name for the message.
    """

    def __init__(self, num_classes: int, ignore_index: int, dataset: str):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.dataset = dataset

    def transform(self, results: dict) -> dict:
        labels = results.get('gt_seg_map')
        if labels is None or labels.max(initial=0) < self.num_classes:
            return results
        values = np.unique(labels)
        bad = values[(values >= self.num_classes)
                     & (values != self.ignore_index)]
        if len(bad):
            reduced = (' after reduce_zero_label, which maps a file value v '
                       'to v - 1 and 0 to the ignore index'
                       if results.get('reduce_zero_label') else '')
            raise SampleError(
                f"Segmentation label {results.get('seg_map_path')} holds "
                f'values {bad.tolist()}{reduced}, outside the '
                f'{self.num_classes} classes of {self.dataset} (valid: 0..'
                f'{self.num_classes - 1} and the ignore index '
                f'{self.ignore_index}). Fix the labels or the dataset\'s '
                'classes / reduce_zero_label.')
        return results


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


def guard_dataset(dataset) -> None:
    """Name the files of failing samples and check segmentation labels."""
    for leaf in leaf_datasets(dataset):
        pipeline = getattr(leaf, 'pipeline', None)
        if not isinstance(pipeline, Compose) or isinstance(
                pipeline, NamedErrorsCompose):
            continue
        transforms = list(pipeline.transforms)
        if hasattr(leaf, 'ignore_index') and 'classes' in leaf.metainfo:
            _insert_label_check(leaf, transforms)
        leaf.pipeline = NamedErrorsCompose(transforms)


def _insert_label_check(dataset, transforms: List) -> None:
    loads = [i for i, transform in enumerate(transforms)
             if type(transform).__name__ == 'LoadAnnotations']
    if loads:
        transforms.insert(
            loads[0] + 1,
            CheckSegLabels(len(dataset.metainfo['classes']),
                           dataset.ignore_index, type(dataset).__name__))


def check_dataset(dataset, role: str) -> None:
    """Raise for a dataset without samples or with invalid COCO-style
    annotations; log annotations that mmdet would silently drop.

    Args:
        dataset: A built dataset (wrappers included).
        role (str): ``'train'``, ``'val'`` or ``'test'``, for messages.
    """
    for leaf in leaf_datasets(dataset):
        if len(leaf) == 0:
            raise SampleError(no_samples(leaf, role))
        ann_file = getattr(leaf, 'ann_file', '')
        if isinstance(ann_file, str) and ann_file.endswith('.json'):
            check_coco_annotations(ann_file, f'{role} dataset')


def no_samples(dataset, role: str = '') -> str:
    """The message for a dataset without samples."""
    return (f'The {role + " " if role else ""}dataset '
            f'{type(dataset).__name__} has no samples (data_root '
            f'{getattr(dataset, "data_root", None)!r}, data_prefix '
            f'{getattr(dataset, "data_prefix", None)}, ann_file '
            f'{getattr(dataset, "ann_file", None)!r}): check these paths, '
            'the file suffixes the dataset expects (img_suffix, '
            'seg_map_suffix) and its filter_cfg.')


def check_coco_annotations(ann_file: str, role: str = 'dataset') -> None:
    """Raise for boxes and polygons of a COCO-format file that are
    malformed, not finite or of negative size, naming the image ids; log
    those mmdet drops without a word (empty boxes, polygons of fewer than
    three points or an odd number of coordinates).

    The file is read again (mmdet's dataset keeps only what it parsed), a
    one-off cost before the first iteration.
    """
    content = fileio.load(ann_file)
    if not isinstance(content, dict):
        return
    errors, dropped = [], []
    for ann in content.get('annotations', []):
        problem = annotation_problem(ann)
        if problem:
            fatal, text = problem
            (errors if fatal else dropped).append(
                f"image id {ann.get('image_id')}: {text}")
    if dropped:
        print_log(
            f'{len(dropped)} annotations of {ann_file} ({role}) are empty or '
            f'have invalid polygons, which mmdet ignores: {dropped[:5]}',
            logger='current', level=logging.WARNING)
    if errors:
        raise SampleError(
            f'{len(errors)} annotations of {ann_file} ({role}) are invalid: '
            f'{errors[:5]}. Fix or remove them.')


def annotation_problem(ann: dict) -> Optional[Tuple[bool, str]]:
    """``(fatal, description)`` of what is wrong with a COCO annotation,
    or None."""
    bbox = ann.get('bbox')
    if bbox is not None:
        if len(bbox) != 4 or not all(
                isinstance(v, (int, float)) and math.isfinite(v)
                for v in bbox):
            return True, f'bbox {bbox} is not 4 finite numbers [x, y, w, h]'
        if bbox[2] < 0 or bbox[3] < 0:
            return True, f'bbox {bbox} has a negative width or height'
        if bbox[2] == 0 or bbox[3] == 0:
            return False, f'bbox {bbox} is empty'
    segmentation = ann.get('segmentation')
    for polygon in segmentation if isinstance(segmentation, list) else []:
        if not all(isinstance(v, (int, float)) and math.isfinite(v)
                   for v in polygon):
            return True, f'polygon {polygon} is not finite numbers'
        if len(polygon) < 6 or len(polygon) % 2:
            return False, (f'polygon {polygon} has {len(polygon)} '
                           'coordinates (needs an even number, at least 6)')
    return None
