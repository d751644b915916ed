"""Report the label values of a segmentation dataset and flag label mistakes.

    python tools/misc/scan_labels.py CONFIG [--split train]
    python tools/misc/scan_labels.py ANNOTATION_DIR --num-classes N
        [--reduce-zero-label] [--suffix .png] [--ignore-index 255]

With a config, the annotation files are those its ``<split>_dataloader``
dataset lists (mmseg builds it: ``data_root``, ``data_prefix.seg_map_path``,
the suffixes, ``ann_file``), ``reduce_zero_label`` comes from the dataset
and its ``LoadAnnotations`` and ``num_classes`` from the decode head. With a
directory, every ``*<suffix>`` file below it is read. Files are decoded as
mmseg's ``LoadAnnotations`` does (pillow, unchanged).

Printed: every stored value with its pixel count, share, number of files and
the label training sees (after ``reduce_zero_label`` and the dataset's
``label_map``). Flagged, with the offending files named:

* values that become labels >= num_classes but are not the ignore index;
* ``reduce_zero_label`` set although the values fit without it (0 would be
  ignored and every class shifted), or unset while the values look 1-based
  with 0 as "other" (ADE20K style);
* masks of only 0 and 255 (255 is ignored: the foreground is never learnt);
* colour (RGB) masks instead of single-channel class indices;
* empty, missing or undecodable files;
* decode / auxiliary head ``num_classes`` and the dataset's classes that
  disagree.

Exit status 1 when an error is flagged.
"""
import argparse
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


@dataclass
class Counts:
    """Pixel counts per stored value and the files that could not be used."""
    pixels: Counter = field(default_factory=Counter)
    files: Dict[int, List[str]] = field(
        default_factory=lambda: defaultdict(list))
    colour: List[str] = field(default_factory=list)
    unreadable: List[str] = field(default_factory=list)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Report the label values of a segmentation dataset and '
        'flag num_classes / reduce_zero_label / ignore-index mistakes.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        'source', help='a segmentation config, or a directory of label maps')
    parser.add_argument(
        '--split', default='train', choices=['train', 'val', 'test'],
        help='config: which dataloader to scan')
    parser.add_argument(
        '--num-classes', type=int,
        help="number of classes (default: the config's decode head)")
    parser.add_argument(
        '--reduce-zero-label', action='store_true',
        help='treat 0 as ignored and shift the other values down by one '
        '(default: as the config says)')
    parser.add_argument(
        '--suffix', default='.png', help='directory: label map suffix')
    parser.add_argument(
        '--ignore-index', type=int, default=255,
        help='directory: the ignored value')
    return parser, parser.parse_args()


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
    return Labels(files, num_classes,
                  reduce_zero_label or dataset.reduce_zero_label,
                  dataset.ignore_index, dataset.metainfo.get('classes'),
                  dataset.label_map, config_errors(cfg, dataset, dataset_cfg))


def config_errors(cfg, dataset, dataset_cfg):
    """Heads and dataset that disagree on the classes or on
    ``reduce_zero_label``."""
    errors = []
    heads = {name: _head_num_classes(cfg.model.get(name))
             for name in ('decode_head', 'auxiliary_head')}
    numbers = {n for values in heads.values() for n in values}
    classes = dataset.metainfo.get('classes')
    if len(numbers) > 1 or (classes and numbers
                            and numbers != {len(classes)}):
        errors.append(
            'num_classes disagree: ' + ', '.join(
                f'{name} {values}' for name, values in heads.items()
                if values) + f', dataset classes {len(classes or ())}; set '
            'all heads to the number of classes')
    dataset_reduce = dataset.reduce_zero_label
    for transform in dataset_cfg.get('pipeline', []):
        reduce = transform.get('reduce_zero_label')
        if transform.get('type') == 'LoadAnnotations' and reduce is not None \
                and reduce != dataset_reduce:
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


def trained_label(value, labels):
    """The label training sees for a stored value (as ``LoadAnnotations``
    maps it: with ``reduce_zero_label`` 0 and 255 become 255)."""
    if labels.reduce_zero_label:
        value = 255 if value in (0, 255) else value - 1
    if labels.label_map:
        value = labels.label_map.get(value, value)
    return value


def find_problems(counts, labels):
    """(errors, warnings) as sentences naming values and files."""
    errors = list(labels.errors)
    errors += _file_errors(counts)
    warnings = []
    stored = sorted(counts.pixels)
    if not stored:
        return errors, warnings
    if set(stored) == {0, labels.ignore_index}:
        errors.append(
            f'only 0 and {labels.ignore_index} occur: {labels.ignore_index} '
            'is the ignore index, so the foreground is never learnt; store '
            f'it as 1 (e.g. mask // 255), e.g. {_examples(counts, stored)}')
    elif labels.num_classes is not None:
        errors += _range_errors(counts, labels)
        warnings += _zero_label_warnings(counts, labels)
    missing = _absent_classes(counts, labels)
    if missing:
        more = f' and {len(missing) - 10} more' if len(missing) > 10 else ''
        warnings.append(f'{_count(missing, "class")} without a single '
                        f'pixel: {", ".join(map(str, missing[:10]))}{more}')
    return errors, warnings


def _file_errors(counts):
    """Files that could not be read or hold colour images."""
    errors = []
    if counts.unreadable:
        errors.append(f'{_count(counts.unreadable, "unusable file")}: ' +
                      '; '.join(counts.unreadable[:EXAMPLES]))
    if counts.colour:
        errors.append(
            f'{_count(counts.colour, "file")} in colour, (H, W, 3) images, '
            'not single-channel class indices (0..num_classes-1, 255 = '
            'ignore); map the colours to indices (or save one channel if all '
            f'three are equal): {", ".join(counts.colour[:EXAMPLES])}')
    return errors


def _range_errors(counts, labels):
    """Stored values that train as labels >= num_classes."""
    errors = []
    for value in sorted(counts.pixels):
        label = trained_label(value, labels)
        if label == labels.ignore_index or label < labels.num_classes:
            continue
        hint = ''
        if not labels.reduce_zero_label and value == labels.num_classes \
                and 0 in counts.pixels:
            hint = (' The values look 1-based with 0 as "other" (ADE20K '
                    'style): set reduce_zero_label=True.')
        errors.append(
            f'value {value} ({_count(counts.pixels[value], "pixel")}, '
            f'{_count(counts.files[value], "file")}) becomes label {label}, '
            f'not below num_classes={labels.num_classes} and not the ignore '
            f'index {labels.ignore_index}: {_examples(counts, [value])}.'
            + hint)
    return errors


def _zero_label_warnings(counts, labels):
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
    present = {trained_label(v, labels) for v in counts.pixels}
    names = labels.classes or range(labels.num_classes)
    return [name for i, name in enumerate(names)
            if i < labels.num_classes and i not in present]


def _count(items, noun):
    """'1 file', '3 files' (items: a number or a list)."""
    number = items if isinstance(items, int) else len(items)
    plural = 'es' if noun.endswith('s') else 's'
    return f'{number} {noun}{plural if number != 1 else ""}'


def _examples(counts, values):
    """The first few files holding any of ``values``."""
    files = [f for v in values for f in counts.files[v]]
    return ', '.join(sorted(set(files))[:EXAMPLES])


def print_table(counts, labels):
    """One row per stored value: pixels, share, files, trained label."""
    total = sum(counts.pixels.values()) or 1
    print(f'{"value":>6} {"pixels":>12} {"share":>7} {"files":>6}  '
          'trained as')
    for value in sorted(counts.pixels):
        print(f'{value:>6} {counts.pixels[value]:>12} '
              f'{100 * counts.pixels[value] / total:>6.2f}% '
              f'{len(counts.files[value]):>6}  {_meaning(value, labels)}')


def _meaning(value, labels):
    """'ignored', 'L: OUT OF RANGE' or 'L class name'."""
    label = trained_label(value, labels)
    if label == labels.ignore_index:
        return 'ignored'
    if labels.num_classes is not None and label >= labels.num_classes:
        return f'{label}: OUT OF RANGE'
    name = labels.classes[label] if labels.classes and label < len(
        labels.classes) else ''
    return f'{label} {name}'.rstrip()


def find_labels(parser, args):
    """The :class:`Labels` of the config or directory the user named."""
    if osp.isdir(args.source):
        return labels_from_dir(args.source, args.suffix, args.num_classes,
                               args.reduce_zero_label, args.ignore_index)
    if not (args.source.endswith('.py') and osp.isfile(args.source)):
        parser.error(f'{args.source} is neither a config file nor a '
                     'directory')
    try:
        return labels_from_config(args.source, args.split, args.num_classes,
                                  args.reduce_zero_label)
    except (FileNotFoundError, ValueError) as error:
        parser.error(f'cannot list the {args.split} split of {args.source}: '
                     f'{error}')


def main():
    parser, args = parse_args()
    labels = find_labels(parser, args)
    if not labels.files:
        parser.error(f'no label maps found for {args.source} (check '
                     'data_root, data_prefix and the suffixes)')
    counts = count_labels(labels.files)
    print(f'{len(labels.files)} label maps, num_classes='
          f'{labels.num_classes}, reduce_zero_label='
          f'{labels.reduce_zero_label}, ignore index {labels.ignore_index}')
    print_table(counts, labels)
    errors, warnings = find_problems(counts, labels)
    for level, messages in (('WARNING', warnings), ('ERROR', errors)):
        for message in messages:
            print(f'{level}: {message}')
    if labels.num_classes is None:
        print('(pass --num-classes to check the values against it)')
    print('no problems found' if not errors and not warnings else
          f'{_count(errors, "error")}, {_count(warnings, "warning")}')
    raise SystemExit(1 if errors else 0)


if __name__ == '__main__':
    main()
