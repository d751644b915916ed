"""Transforms that check what a pipeline loads and name the file at fault.

mmhvit's base pipelines (``configs/_base_/datasets/``) use them, so the
checks run wherever the pipeline runs: in the main process or in any number
of (persistent) data-loader workers, under ``tools/train.py``, ``mim`` or a
plain ``Runner.from_cfg``. A failing sample raises
:class:`~mmhvit.checks.SampleError` naming its file (the checks are those of
:mod:`mmhvit.checks.samples`); through a worker, torch re-raises it in the
main process with the same type and message.

Training pipelines load with :class:`CheckedLoadImageFromFile` and
:class:`CheckedLoadSegAnnotations`. Test pipelines keep the upstream loaders,
whose type names the upstream inferencers look for and replace
(``MMSegInferencer``, ``DetInferencer``, ``ImageClassificationInferencer``),
and check labels with :class:`CheckSegLabels`, which passes samples without
labels (an inferencer's) through.
"""
from typing import Optional

from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from mmhvit.checks.samples import (check_bit_depth, check_decoder_messages,
                                   check_image, check_label_encoding,
                                   check_orientation, check_seg_labels,
                                   file_head, loading_error, native_stderr)
from mmhvit.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile``; a :class:`SampleError` naming the file
    for an image that cannot be read or decoded (mmcv asserts, or lets
    OpenCV's error through without the file name for an empty file), that
    its decoder reports as corrupt (libjpeg only prints a warning and the
    image trains garbled), that is less than 2 pixels a side, whose size
    differs from the one its annotation file states (COCO's ``height`` /
    ``width``, which its boxes refer to), that is a 16-bit PNG of fewer
    bits (read as 8 bits, it would be dark), or that has a label map and an
    EXIF orientation (the decoder turns the image, not the label map).

    Args: as mmcv's ``LoadImageFromFile``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        head = file_head(path)
        try:
            with native_stderr() as messages:
                loaded = super().transform(results)
        except Exception as error:
            raise loading_error(error, 'image', path) from error
        check_decoder_messages(messages, path)
        if loaded is not None:  # None: ignore_empty and a missing file
            annotated = (results['height'], results['width']) if {
                'height', 'width'} <= results.keys() else None
            check_image(loaded['img'], path, annotated)
            check_bit_depth(loaded['img'], head, path)
            if results.get('seg_map_path'):
                check_orientation(head, path, results['seg_map_path'])
        return loaded


@TRANSFORMS.register_module()
class CheckedLoadSegAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations``, then checks of the label map: it is no
    JPEG, decodes, is a single-channel map at least 2 pixels a side, has the
    size of its image, and (with ``num_classes``) holds only values in
    ``[0, num_classes)`` or ``ignore_index`` after ``reduce_zero_label`` and
    the dataset's ``label_map``. Otherwise a wrong label surfaces as a CUDA
    device-side assert or an index error inside the loss, or trains
    silently.

    Args:
        num_classes (int, optional): Classes of the dataset (its
            ``metainfo['classes']``); None skips the range check.
            ``PreflightCheckHook`` checks that it agrees with the dataset.
        ignore_index (int): Label value excluded from the loss.
        **kwargs: mmseg ``LoadAnnotations`` arguments.
    """

    def __init__(self, num_classes: Optional[int] = None,
                 ignore_index: int = 255, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        check_label_encoding(file_head(path, 4), path)
        try:
            super()._load_seg_map(results)
        except Exception as error:
            raise loading_error(error, 'segmentation label',
                                path) from error
        check_seg_labels(results['gt_seg_map'], path,
                         results.get('ori_shape'), self.num_classes,
                         self.ignore_index, results.get('reduce_zero_label'))


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """The label checks of :class:`CheckedLoadSegAnnotations` for a label
    map loaded before (after mmseg's ``LoadAnnotations`` in a test
    pipeline), and the EXIF orientation of its image; a sample without one
    passes unchanged.

    Args:
        num_classes (int, optional): Classes of the dataset; None skips the
            range check.
        ignore_index (int): Label value excluded from the loss.
    """

    def __init__(self, num_classes: Optional[int] = None,
                 ignore_index: int = 255):
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if results.get('gt_seg_map') is not None:
            if results.get('img_path'):
                check_orientation(file_head(results['img_path']),
                                  results['img_path'],
                                  results.get('seg_map_path'))
            check_seg_labels(results['gt_seg_map'],
                             results.get('seg_map_path'),
                             results.get('ori_shape'), self.num_classes,
                             self.ignore_index,
                             results.get('reduce_zero_label'))
        return results
