"""Loading transforms that check what they load and name the file at fault.

They take the place of the upstream loaders in mmhvit's base pipelines
(``configs/_base_/datasets/``), so the checks run wherever the pipeline
runs: in the main process or in any number of (persistent) data-loader
workers, under ``tools/train.py``, ``mim`` or a plain ``Runner.from_cfg``.
A failing sample raises :class:`~mmhvit.datasets.validation.SampleError`
naming its file; through a worker, torch re-raises it in the main process
with the same type and message.
"""
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations

from mmhvit.registry import TRANSFORMS
from .validation import SampleError, check_seg_labels


def _named(error: Exception, what: str, path) -> SampleError:
    return SampleError(f'Cannot load {what} {path}: {type(error).__name__}: '
                       f'{error}. Fix or remove the file.')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile``; a file that cannot be read or decoded
    raises a :class:`SampleError` naming it (mmcv asserts, or lets OpenCV's
    error through without the file name for an empty file).

    Args: as mmcv's ``LoadImageFromFile``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except Exception as error:
            raise _named(error, 'image', results.get('img_path')) from error


@TRANSFORMS.register_module()
class CheckedLoadSegAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations``, then checks of the label map: it decodes,
    is a single-channel map at least 2 pixels a side, has the size of its
    image, and (with ``num_classes``) holds only values in
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
        try:
            super()._load_seg_map(results)
        except Exception as error:
            raise _named(error, 'segmentation label', path) from error
        check_seg_labels(results['gt_seg_map'], path,
                         results.get('ori_shape'), self.num_classes,
                         self.ignore_index, results.get('reduce_zero_label'))
