"""Checks of one sample's files as a pipeline loads them, naming the file
at fault.

They run in the loading transforms of :mod:`mmhvit.datasets.transforms`,
so in every data-loader worker; through a worker, torch re-raises a
:class:`SampleError` in the main process with the same type and message.
"""
import contextlib
import os
import struct
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


def file_head(path, size: int = 1 << 16) -> bytes:
    """The first bytes of a local file; empty for other storage, or when
    it cannot be read (the loader then names the file)."""
    try:
        with open(path, 'rb') as f:
            return f.read(size)
    except (OSError, TypeError):
        return b''


#: EXIF orientation -> what the decoders (OpenCV, and mmcv's Pillow path)
#: do to the pixels on loading
ORIENTATIONS = {2: 'mirrors it', 3: 'rotates it by 180 degrees',
                4: 'flips it upside down', 5: 'transposes it',
                6: 'rotates it by 90 degrees', 7: 'transverses it',
                8: 'rotates it by 270 degrees'}


def exif_orientation(head: bytes) -> int:
    """The EXIF orientation tag of a JPEG whose first bytes are ``head``;
    1 (as stored) without one."""
    pos = 2 if head.startswith(b'\xff\xd8') else len(head)
    while pos + 10 <= len(head) and head[pos] == 0xFF:
        marker, length = head[pos + 1], struct.unpack(
            '>H', head[pos + 2:pos + 4])[0]
        if marker == 0xDA:  # start of scan: no more metadata
            break
        if marker == 0xE1 and head[pos + 4:pos + 10] == b'Exif\0\0':
            return _tiff_orientation(head[pos + 10:pos + 2 + length])
        pos += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    """Tag 0x0112 of the first IFD of an EXIF TIFF block, or 1."""
    order = {b'II': '<', b'MM': '>'}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    ifd = struct.unpack(order + 'I', tiff[4:8])[0]
    count = struct.unpack(order + 'H', tiff[ifd:ifd + 2])[0] if len(
        tiff) >= ifd + 2 else 0
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11),
                       12):
        if struct.unpack(order + 'H', tiff[entry:entry + 2])[0] == 0x0112:
            return struct.unpack(order + 'H', tiff[entry + 8:entry + 10])[0]
    return 1


def check_orientation(head: bytes, path: str, label: str) -> None:
    """errors.md row 89: an image that has a label map carries no EXIF
    orientation other than 1: the decoders turn the image by it, the label
    map stays as stored, and image and labels no longer match (whatever
    their shape).

    Args:
        head (bytes): The first bytes of the image file.
        path (str): The image.
        label (str): Its label map.

    Raises:
        SampleError: naming both files and the orientation.
    """
    orientation = exif_orientation(head)
    if orientation in ORIENTATIONS:
        raise SampleError(
            f'Image {path} has EXIF orientation {orientation}: the loader '
            f'{ORIENTATIONS[orientation]}, but not its label map {label}, so '
            'they no longer match. Apply the orientation to the pixels and '
            'drop the tag (e.g. PIL.ImageOps.exif_transpose, then save), '
            'or strip the tag if the label map was drawn on the stored '
            'pixels.')


def check_bit_depth(image, head: bytes, path: str) -> None:
    """errors.md row 90: a 16-bit PNG uses its range. The loaders read
    16-bit images as 8 bits, dividing by 256: 12-bit data (values up to
    4095) become 0..15 instead of 0..255, silently.

    Args:
        image (np.ndarray): The image as loaded (8 bits).
        head (bytes): The first bytes of its file.
        path (str): The file.

    Raises:
        SampleError: naming the file, the values and the fix.
    """
    sixteen_bit = head[:8] == b'\x89PNG\r\n\x1a\n' and head[12:16] == \
        b'IHDR' and head[24] == 16
    if not sixteen_bit or image.max(initial=0) >= 64:
        return
    import cv2
    stored = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    top = int(stored.max(initial=0))
    raise SampleError(
        f'Image {path} is a 16-bit PNG whose values reach only {top} '
        f'({max(top, 1).bit_length()}-bit data): the loader divides 16-bit '
        f'values by 256 and reads it as 0..{image.max()} instead of 0..255. '
        f'Scale the values to the 16-bit range when converting (x * '
        f'{2 ** (16 - max(top, 1).bit_length())}), or save 8-bit images.')


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
