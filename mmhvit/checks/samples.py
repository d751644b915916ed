"""Checks of one sample's files as a pipeline loads them, naming the file
at fault.

They run in the loading transforms of :mod:`mmhvit.datasets.transforms`,
so in every data-loader worker; through a worker, torch re-raises a
:class:`SampleError` in the main process with the same type and message.
"""
import contextlib
import os
import sys
import tempfile
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

IGNORE_INDEX = 255
REDUCE_ZERO_LABEL_NOTE = (' after reduce_zero_label, which maps a file value '
                          'v to v - 1 and 0 to the ignore index')
#: The starts of what libjpeg writes on stderr for a JPEG whose data it
#: decoded only in part; OpenCV and Pillow still return the image, garbled
#: or grey from the bad data on.
CORRUPT_IMAGE_MESSAGES = ('Corrupt JPEG data', 'Premature end of JPEG file')
#: The smallest side of an image or label map (mmseg's label loading and
#: the visualisers index a second row and column).
MIN_SIDE = 2


class SampleError(RuntimeError):
    """A sample of a dataset cannot be loaded or holds invalid values."""


def loading_error(error: Exception, what: str, path) -> SampleError:
    """errors.md rows 31 and 48: a file the upstream loader failed on (mmcv
    asserts, OpenCV names no file), named."""
    return SampleError(f'Cannot load {what} {path}: {type(error).__name__}: '
                       f'{error}. Fix or remove the file.')


@contextlib.contextmanager
def native_stderr() -> Iterator[List[str]]:
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


def check_decoder_messages(messages: Sequence[str], path: str) -> None:
    """errors.md row 43: raise for an image whose decoder reported corrupt
    data in ``messages`` (what it wrote to stderr while decoding ``path``,
    :func:`native_stderr`)."""
    corrupt = [line for line in messages
               if line.startswith(CORRUPT_IMAGE_MESSAGES)]
    if corrupt:
        raise SampleError(
            f'Image {path} is corrupt: its decoder reports {corrupt[0]!r} '
            'and returns the image garbled or grey from there on. Re-encode '
            'it from its source or remove it.')


def check_image(image: np.ndarray, path: str,
                annotated: Optional[Tuple[int, int]] = None) -> None:
    """errors.md rows 44, 58 and 79: a decoded image is at least
    :data:`MIN_SIDE` pixels a side and, if its annotation file states a
    size ``annotated`` (height, width), of that size (COCO's ``height`` /
    ``width``, which its boxes refer to).

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


def file_head(path, size: int = 4) -> bytes:
    """The first bytes of a local file; empty for other storage, or when
    it cannot be read (the loader then names the file)."""
    try:
        with open(path, 'rb') as f:
            return f.read(size)
    except (OSError, TypeError):
        return b''


def check_label_encoding(head: bytes, path: str) -> None:
    """errors.md row 49: a label map is not stored as a JPEG (``head``: its
    first bytes), whose compression changes the class indices along every
    edge.

    Raises:
        SampleError: naming the file.
    """
    if head.startswith(b'\xff\xd8'):
        raise SampleError(
            f'Segmentation label {path} is a JPEG file: JPEG compression '
            'changes class indices along every edge, silently. Save label '
            'maps losslessly (PNG) from their source.')


def trained_label(value: int, reduce_zero_label: bool = False,
                  label_map: Optional[dict] = None,
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
    """errors.md rows 32, 45, 46 and 47: a loaded label map (after
    ``reduce_zero_label`` and ``label_map``) is a single-channel map, at
    least 2 pixels a side, of its image's size ``image_shape`` (H, W), with
    values in ``[0, num_classes)`` or ``ignore_index``.

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
    if num_classes is None:
        return
    # two comparisons over the map, then a sort of the values outside only:
    # np.unique sorts the whole map (27 ms at ADE20K's 512x683, where
    # reduce_zero_label puts the ignore index in nearly every map)
    bad = np.unique(out_of_range(labels, num_classes, ignore_index))
    if len(bad):
        reduced = REDUCE_ZERO_LABEL_NOTE if reduce_zero_label else ''
        raise SampleError(
            f'Segmentation label {path} holds values {bad.tolist()}'
            f'{reduced}, outside the {num_classes} classes (valid: 0..'
            f'{num_classes - 1} and the ignore index {ignore_index}). Fix the '
            "labels or the dataset's classes / reduce_zero_label.")
