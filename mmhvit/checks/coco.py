"""Checks of a COCO-format annotation file, naming the file, the image ids
and what mmdet would do with them (drop them silently, merge, fail on
unpacking)."""
import json
import logging
import math
import os.path as osp
from collections import Counter
from typing import Optional, Sequence, Tuple

from mmengine import fileio
from mmengine.logging import print_log

from .samples import SampleError


def check_coco_annotations(ann_file: str, role: str = 'dataset',
                           classes: Optional[Sequence[str]] = None) -> None:
    """errors.md rows 33-34 and 51-56: :func:`check_coco_content` (and,
    given the dataset's ``classes``, :func:`check_coco_classes`) of a
    COCO-format file, read again (for datasets other than
    ``mmhvit.CheckedCocoDataset``, which checks what it parses), a one-off
    cost before the first iteration."""
    content = load_json(ann_file)
    check_coco_content(content, f'{ann_file} ({role})')
    if classes:
        check_coco_classes(content.get('categories', []), classes, ann_file)


def load_json(path: str):
    """The content of the JSON file ``path``; errors.md row 92: a file that
    is not valid JSON (truncated while copying, an HTML error page) is named
    with the position of the fault.

    Raises:
        SampleError: naming the file, the line, column and character of
            the fault and the file's length.
    """
    try:
        return fileio.load(path, file_format='json')
    except json.JSONDecodeError as error:
        raise json_error(error, path) from error


def json_error(error: json.JSONDecodeError, path: str) -> SampleError:
    """errors.md row 92: the message for an annotation file that is not
    valid JSON."""
    size = osp.getsize(path) if osp.isfile(path) else len(error.doc)
    cut = (' It ends before its brackets close: the file is cut short '
           '(copied or downloaded in part?).'
           if error.doc.rstrip()[-1:] not in ('}', ']') else '')
    return SampleError(
        f'{path} is not valid JSON: {error.msg} (line {error.lineno}, column '
        f'{error.colno}: character {error.pos} of {len(error.doc)}, {size} '
        f'bytes).{cut} Copy or write the annotation file again.')


def check_coco_content(content, source: str) -> None:
    """errors.md rows 33, 34, 51-55: raise for a COCO-format annotation dict
    without an ``images`` list, or with annotations that are malformed, not
    finite, of negative size, entirely outside their image, or name an image
    or category the file does not list, naming the image ids; log those
    mmdet drops without a word (empty boxes, polygons of fewer than three
    points or an odd number of coordinates).

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
    """errors.md row 56: every class of the dataset's ``metainfo.classes``
    is a category name of the COCO file; log the file's categories that
    mmdet drops because they are not classes.

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


def check_coco_masks(data_list: Sequence[dict], pipeline,
                     source: str) -> None:
    """errors.md row 110: when the pipeline loads instance masks (mmdet's
    ``LoadAnnotations(with_mask=True)``, as Mask R-CNN's pipelines do),
    every instance mmdet parsed has one.

    mmdet keeps an annotation without a (non-empty) ``segmentation`` as a
    box without ``mask``, and its mask loader fails with ``KeyError:
    'mask'`` in a data worker once that image is drawn.

    Args:
        data_list: The dataset's parsed samples (``instances`` each).
        pipeline: Its transforms (mmengine's ``Compose``).
        source (str): The file (and role) for messages.

    Raises:
        SampleError: naming the file, the count and the image ids.
    """
    if not any(getattr(t, 'with_mask', False)
               for t in getattr(pipeline, 'transforms', [])):
        return
    total, images = 0, []
    for info in data_list:
        missing = [i for i in info['instances'] if 'mask' not in i]
        total += len(info['instances'])
        if missing:
            images.append((info['img_id'], len(missing)))
    if images:
        raise SampleError(
            f'{sum(n for _, n in images)} of the {total} annotations of '
            f"{source} have no 'segmentation' (e.g. image ids "
            f'{[i for i, _ in images[:5]]}), but the pipeline loads masks '
            '(LoadAnnotations with_mask=True, as Mask R-CNN\'s does): '
            "mmdet's loader would fail with KeyError: 'mask' at their "
            'images. For boxes only, train a box detector (a RetinaNet '
            'config, e.g. configs/_base_/custom/'
            'retinanet_hat-net-tiny_fpn_custom-det.py); for instance masks, '
            "give every annotation its polygons or RLE in 'segmentation'.")


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
    if 'area' not in ann:
        return True, ("has no 'area' (mmdet's parser fails with KeyError: "
                      "'area'; COCO gives the polygon's area)")
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


#: Why mmdet's ``CocoDataset`` does not train on an annotation, in the order
#: its ``parse_data_info`` tests it: reason -> (what is left out, the
#: setting or fix that decides)
LEFT_OUT = {
    'ignore': ("annotations marked 'ignore'", "their 'ignore' key"),
    'outside': ('annotations whose box lies outside its image',
                "their 'bbox' or the image's 'width' / 'height'"),
    'area': ('annotations of area 0 or less (converters that write no '
             'area), which mmdet drops',
             "their 'area' (the polygon's area, or the box's w * h)"),
    'tiny': ('annotations whose box is under 1 pixel wide or high, which '
             'mmdet drops',
             "their 'bbox': [x, y, w, h] in pixels, not in 0..1"),
    'category': ('annotations of categories that are no class of the '
                 'dataset', 'metainfo.classes'),
    'crowd': ('crowd regions (iscrowd=1), which mmdet ignores in training',
              "their 'iscrowd'"),
}


def left_out_reason(ann: dict, image: dict, cat_ids) -> Optional[str]:
    """The key of :data:`LEFT_OUT` for which mmdet's ``CocoDataset`` does
    not train on the annotation ``ann`` of ``image``, or None."""
    if ann.get('ignore', False):
        return 'ignore'
    x, y, w, h = ann['bbox']
    inside_w = min(x + w, image['width']) - max(x, 0)
    inside_h = min(y + h, image['height']) - max(y, 0)
    if max(0, inside_w) * max(0, inside_h) == 0:
        return 'outside'
    if ann.get('area', 0) <= 0:
        return 'area'
    if w < 1 or h < 1:
        return 'tiny'
    if ann['category_id'] not in cat_ids:
        return 'category'
    if ann.get('iscrowd', False):
        return 'crowd'
    return None
