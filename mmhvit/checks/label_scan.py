"""A scan of every label map of a segmentation dataset: the values stored,
their pixel counts and the label training sees for each, with the label
mistakes users make flagged and the files named (what
``tools/misc/scan_labels.py`` prints). The rules are those the loaders
apply per sample (:mod:`mmhvit.checks.samples`).

Flagged:

* values that become labels >= num_classes but are not the ignore index;
* ``reduce_zero_label`` set although the values fit without it (0 would be
  ignored and every class shifted), or unset while the values look 1-based
  with 0 as "other" (ADE20K style);
* masks of only 0 and 255 (255 is ignored: the foreground is never learnt);
* colour (RGB) masks instead of single-channel class indices;
* empty, missing or undecodable files;
* heads, the label loader and the dataset's classes that disagree on
  ``num_classes``, and loader and dataset on ``reduce_zero_label``.
"""
import os
import os.path as osp
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.fileio import get
from mmengine.registry import DATASETS, init_default_scope

from .inventory import (MAX_LEFT_OUT, Inventory, inventory_problems,
                        take_inventory)
from .model import num_classes_disagreement
from .samples import trained_label

#: Label loader transforms (mmseg's and mmhvit's checked one).
LABEL_LOADERS = ('LoadAnnotations', 'CheckedLoadSegAnnotations')
EXAMPLES = 3  # offending files named per problem


@dataclass
class Labels:
    """What the scan needs to know about a dataset."""
    files: List[str]
    num_classes: Optional[int]
    reduce_zero_label: bool = False
    ignore_index: int = 255
    classes: Optional[tuple] = None
    label_map: Optional[Dict[int, int]] = None
    errors: List[str] = field(default_factory=list)  # found in the config
    split: str = 'train'
    inventory: Optional[Inventory] = None  # of the config's dataset


@dataclass
class Counts:
    """Pixel counts per stored value and the files that could not be used."""
    pixels: Counter = field(default_factory=Counter)
    files: Dict[int, List[str]] = field(
        default_factory=lambda: defaultdict(list))
    colour: List[str] = field(default_factory=list)
    unreadable: List[str] = field(default_factory=list)


def labels_from_dir(root, suffix, num_classes, reduce_zero_label,
                    ignore_index):
    """Every ``*suffix`` file below ``root``."""
    files = sorted(
        osp.join(folder, name) for folder, _, names in os.walk(root)
        for name in names if name.endswith(suffix))
    return Labels(files, num_classes, reduce_zero_label, ignore_index)


def labels_from_config(path, split, num_classes=None,
                       reduce_zero_label=False):
    """The annotation files and label settings of a config's split."""
    cfg = Config.fromfile(path)
    if cfg.get('default_scope') != 'mmseg':
        raise ValueError(f'{path} is not a segmentation config (its '
                         f'default_scope is {cfg.get("default_scope")!r})')
    init_default_scope('mmseg')
    dataset_cfg = cfg[f'{split}_dataloader']['dataset']
    while 'dataset' in dataset_cfg:  # RepeatDataset and the like
        dataset_cfg = dataset_cfg['dataset']
    dataset = DATASETS.build(dataset_cfg)
    files = [dataset.get_data_info(i)['seg_map_path']
             for i in range(len(dataset))]
    if num_classes is None:
        num_classes = (_head_num_classes(cfg.model.get('decode_head'))
                       or [None])[0]
    inventory = take_inventory(dataset)
    if inventory is not None:
        inventory.dataset = f'{split} dataset {type(dataset).__name__}'
    return Labels(files, num_classes,
                  reduce_zero_label or dataset.reduce_zero_label,
                  dataset.ignore_index, dataset.metainfo.get('classes'),
                  dataset.label_map, config_errors(cfg, dataset, dataset_cfg),
                  split, inventory)


def config_errors(cfg, dataset, dataset_cfg):
    """Heads, label loader and dataset that disagree on the classes or on
    ``reduce_zero_label``."""
    errors = []
    heads = {}
    for name in ('decode_head', 'auxiliary_head'):
        values = _head_num_classes(cfg.model.get(name))
        heads.update({f'{name}[{i}]' if len(values) > 1 else name: value
                      for i, value in enumerate(values)})
    loaders = [t for t in dataset_cfg.get('pipeline', [])
               if str(t.get('type', '')).split('.')[-1] in LABEL_LOADERS]
    heads.update({'label loader': t['num_classes'] for t in loaders
                  if t.get('num_classes') is not None})
    problem = num_classes_disagreement(heads, dataset.metainfo.get('classes'))
    if problem:
        errors.append(f'{problem}; set all heads (and the label loader) to '
                      'the number of classes')
    dataset_reduce = dataset.reduce_zero_label
    for transform in loaders:
        reduce = transform.get('reduce_zero_label')
        if reduce is not None and reduce != dataset_reduce:
            errors.append(
                f'the dataset has reduce_zero_label={dataset_reduce} but its '
                f'LoadAnnotations {reduce} (mmseg asserts they match): set '
                'both')
    return errors


def _head_num_classes(head):
    """num_classes of a head config, or of each head of a list."""
    heads = head if isinstance(head, list) else [head] if head else []
    return [h['num_classes'] for h in heads if 'num_classes' in h]


def count_labels(files):
    """Pixels per stored value over ``files``."""
    counts = Counts()
    for path in files:
        try:
            label = read_label(path)
        except (OSError, ValueError) as error:
            counts.unreadable.append(f'{path} ({error})')
            continue
        if label.ndim == 3:
            counts.colour.append(path)
            continue
        values, pixels = np.unique(label, return_counts=True)
        for value, number in zip(values.tolist(), pixels.tolist()):
            counts.pixels[value] += number
            counts.files[value].append(path)
    return counts


def read_label(path):
    """The label map as mmseg's ``LoadAnnotations`` decodes it."""
    if not osp.isfile(path):
        raise FileNotFoundError('missing')
    data = get(path)
    if not data:
        raise ValueError('empty file')
    try:
        label = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
    except Exception as error:  # pillow raises several types
        raise ValueError(f'cannot decode: {error}') from error
    if label is None or label.size == 0:
        raise ValueError('no pixels')
    return label


def _trained(value, labels):
    """The label training sees for a stored value."""
    return trained_label(value, labels.reduce_zero_label, labels.label_map,
                         labels.ignore_index)


def find_problems(counts, labels):
    """(errors, warnings) as sentences naming values and files, with those
    of the dataset's inventory (what the run reports before iteration 1)."""
    errors = list(labels.errors)
    warnings = []
    if labels.inventory is not None:
        found = inventory_problems(labels.inventory, labels.split,
                                   MAX_LEFT_OUT)
        errors, warnings = errors + found[0], found[1]
    errors += _file_errors(counts)
    stored = sorted(counts.pixels)
    if not stored:
        return errors, warnings
    foreground = ignored_foreground(counts, labels)
    if foreground:
        errors.append(foreground)
    elif labels.num_classes is not None:
        errors += range_errors(counts, labels)
        warnings += zero_label_warnings(counts, labels)
    missing = _absent_classes(counts, labels)
    if missing:
        more = f' and {len(missing) - 10} more' if len(missing) > 10 else ''
        warnings.append(f'{plural(missing, "class")} without a single '
                        f'pixel: {", ".join(map(str, missing[:10]))}{more}')
    return errors, warnings


def ignored_foreground(counts, labels) -> str:
    """errors.md row 111: binary masks stored as 0 and the ignore index
    (255), whose foreground is never learnt; ``''`` for other values."""
    ignore = labels.ignore_index
    if set(counts.pixels) != {0, ignore}:
        return ''
    return (f'only 0 and {ignore} occur: {ignore} is the ignore index, so '
            'the foreground is never learnt; store it as 1 (e.g. mask // '
            f'255), e.g. {_examples(counts, [0, ignore])}')


def _file_errors(counts):
    """Files that could not be read or hold colour images."""
    errors = []
    if counts.unreadable:
        errors.append(f'{plural(counts.unreadable, "unusable file")}: ' +
                      '; '.join(counts.unreadable[:EXAMPLES]))
    if counts.colour:
        errors.append(
            f'{plural(counts.colour, "file")} in colour, (H, W, 3) images, '
            'not single-channel class indices (0..num_classes-1, 255 = '
            'ignore); map the colours to indices (or save one channel if all '
            f'three are equal): {", ".join(counts.colour[:EXAMPLES])}')
    return errors


def range_errors(counts, labels):
    """Stored values that train as labels >= num_classes."""
    errors = []
    for value in sorted(counts.pixels):
        label = _trained(value, labels)
        if label == labels.ignore_index or label < labels.num_classes:
            continue
        hint = ''
        if not labels.reduce_zero_label and value == labels.num_classes \
                and 0 in counts.pixels:
            hint = (' The values look 1-based with 0 as "other" (ADE20K '
                    'style): set reduce_zero_label=True.')
        errors.append(
            f'value {value} ({plural(counts.pixels[value], "pixel")}, '
            f'{plural(counts.files[value], "file")}) becomes label {label}, '
            f'not below num_classes={labels.num_classes} and not the ignore '
            f'index {labels.ignore_index}: {_examples(counts, [value])}.'
            + hint)
    return errors


def zero_label_warnings(counts, labels):
    """reduce_zero_label set although 0..max fits num_classes as stored."""
    real = [v for v in counts.pixels if v != labels.ignore_index]
    if labels.reduce_zero_label and 0 in counts.pixels \
            and max(real) < labels.num_classes:
        return [
            f'reduce_zero_label=True ignores the stored 0 '
            f'({counts.pixels[0]} pixels) and trains value k as class k-1, '
            f'yet the values 0..{max(real)} fit num_classes='
            f'{labels.num_classes} as they are; if 0 is a class, set '
            'reduce_zero_label=False']
    return []


def _absent_classes(counts, labels):
    """Classes (names, or indices) that no pixel is trained as."""
    if labels.num_classes is None:
        return []
    present = {_trained(v, labels) for v in counts.pixels}
    names = labels.classes or range(labels.num_classes)
    return [name for i, name in enumerate(names)
            if i < labels.num_classes and i not in present]


def plural(items, noun):
    """'1 file', '3 files' (items: a number or a list)."""
    number = items if isinstance(items, int) else len(items)
    plural = 'es' if noun.endswith('s') else 's'
    return f'{number} {noun}{plural if number != 1 else ""}'


def _examples(counts, values):
    """The first few files holding any of ``values``."""
    files = [f for v in values for f in counts.files[v]]
    return ', '.join(sorted(set(files))[:EXAMPLES])


def table(counts, labels) -> List[str]:
    """One line per stored value: pixels, share, files, trained label."""
    total = sum(counts.pixels.values()) or 1
    return [f'{"value":>6} {"pixels":>12} {"share":>7} {"files":>6}  '
            'trained as'] + [
        f'{value:>6} {counts.pixels[value]:>12} '
        f'{100 * counts.pixels[value] / total:>6.2f}% '
        f'{len(counts.files[value]):>6}  {_meaning(value, labels)}'
        for value in sorted(counts.pixels)]


def _meaning(value, labels):
    """'ignored', 'L: OUT OF RANGE' or 'L class name'."""
    label = _trained(value, labels)
    if label == labels.ignore_index:
        return 'ignored'
    if labels.num_classes is not None and label >= labels.num_classes:
        return f'{label}: OUT OF RANGE'
    name = labels.classes[label] if labels.classes and label < len(
        labels.classes) else ''
    return f'{label} {name}'.rstrip()
