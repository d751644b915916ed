"""Transforms that check what a pipeline loads and name the file at fault.

mmhvit's base pipelines (``configs/_base_/datasets/``) use them, so the
checks run wherever the pipeline runs: in the main process or in any number
of (persistent) data-loader workers, under ``tools/train.py``, ``mim`` or a
plain ``Runner.from_cfg``. A failing sample raises
:class:`~mmhvit.datasets.validation.SampleError` naming its file; through a
worker, torch re-raises it in the main process with the same type and
message.

Training pipelines load with :class:`CheckedLoadImageFromFile` and
:class:`CheckedLoadSegAnnotations`. Test pipelines keep the upstream loaders,
whose type names the upstream inferencers look for and replace
(``MMSegInferencer``, ``DetInferencer``, ``ImageClassificationInferencer``),
and check labels with :class:`CheckSegLabels`, which passes samples without
labels (an inferencer's) through.
"""
import contextlib
import os
import sys
import tempfile
from typing import Iterator, List, Optional

from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from mmhvit.registry import TRANSFORMS
from .validation import (SampleError, check_decoder_messages, check_image,
                         check_label_encoding, check_seg_labels)


def _named(error: Exception, what: str, path) -> SampleError:
    return SampleError(f'Cannot load {what} {path}: {type(error).__name__}: '
                       f'{error}. Fix or remove the file.')


@contextlib.contextmanager
def _native_stderr() -> Iterator[List[str]]:
    """The lines C libraries (libjpeg, libpng) write to file descriptor 2
    meanwhile, which they print instead of raising; passed on to stderr
    afterwards. Without a usable descriptor 2 nothing is collected."""
    lines: List[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield lines
        return
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read()
            os.write(2, text)
            lines += text.decode(errors='replace').splitlines()


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile``; a :class:`SampleError` naming the file
    for an image that cannot be read or decoded (mmcv asserts, or lets
    OpenCV's error through without the file name for an empty file), that
    its decoder reports as corrupt (libjpeg only prints a warning and the
    image trains garbled), that is less than 2 pixels a side, or whose size
    differs from the one its annotation file states (COCO's ``height`` /
    ``width``, which its boxes refer to).

    Args: as mmcv's ``LoadImageFromFile``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        try:
            with _native_stderr() as messages:
                loaded = super().transform(results)
        except Exception as error:
            raise _named(error, 'image', path) from error
        check_decoder_messages(messages, path)
        if loaded is not None:  # None: ignore_empty and a missing file
            annotated = (results['height'], results['width']) if {
                'height', 'width'} <= results.keys() else None
            check_image(loaded['img'], path, annotated)
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
        check_label_encoding(_head(path), path)
        try:
            super()._load_seg_map(results)
        except Exception as error:
            raise _named(error, 'segmentation label', path) from error
        check_seg_labels(results['gt_seg_map'], path,
                         results.get('ori_shape'), self.num_classes,
                         self.ignore_index, results.get('reduce_zero_label'))


def _head(path) -> bytes:
    """The first bytes of a local file; empty for other storage, or when
    it cannot be read (the loader then names the file)."""
    try:
        with open(path, 'rb') as f:
            return f.read(4)
    except (OSError, TypeError):
        return b''


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """The label checks of :class:`CheckedLoadSegAnnotations` for a label
    map loaded before (after mmseg's ``LoadAnnotations`` in a test
    pipeline); a sample without one passes unchanged.

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
            check_seg_labels(results['gt_seg_map'],
                             results.get('seg_map_path'),
                             results.get('ori_shape'), self.num_classes,
                             self.ignore_index,
                             results.get('reduce_zero_label'))
        return results
