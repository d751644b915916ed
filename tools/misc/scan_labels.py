"""Report the label values of a segmentation dataset and flag label mistakes.

    python tools/misc/scan_labels.py CONFIG [--split train val]
    python tools/misc/scan_labels.py ANNOTATION_DIR --num-classes N
        [--reduce-zero-label] [--suffix .png] [--ignore-index 255]

With a config, the annotation files are those its ``<split>_dataloader``
datasets list (mmseg builds them: ``data_root``, ``data_prefix.seg_map_path``,
the suffixes, ``ann_file``), the training and the validation set unless
``--split`` says otherwise; ``reduce_zero_label`` comes from the dataset
and its ``LoadAnnotations`` and ``num_classes`` from the decode head. Each
split's inventory is printed and checked as a training run does before its
first iteration (files found, used and left out with the reason; missing
label maps are errors). With a directory, every ``*<suffix>`` file below it
is read. Files are decoded as mmseg's ``LoadAnnotations`` does (pillow,
unchanged).

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
  disagree, and label loaders whose ``reduce_zero_label`` is not the
  dataset's;
* images without their label map, and (warnings) more than 5 % of the files
  left out (e.g. ``.JPG`` images of an ``img_suffix='.jpg'`` dataset).

Exit status 1 when an error is flagged. The scan itself is
:mod:`mmhvit.checks.label_scan`.
"""
import argparse
import os.path as osp

from mmhvit.checks.label_scan import (count_labels, find_problems,
                                      labels_from_config, labels_from_dir,
                                      plural, table)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Report the label values of a segmentation dataset and '
        'flag num_classes / reduce_zero_label / ignore-index mistakes.',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        'source', help='a segmentation config, or a directory of label maps')
    parser.add_argument(
        '--split', nargs='+', default=['train', 'val'],
        choices=['train', 'val', 'test'],
        help='config: which dataloaders to scan')
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


def find_labels(parser, args):
    """The :class:`Labels` of each split of the config, or of the
    directory, the user named."""
    if osp.isdir(args.source):
        return [labels_from_dir(args.source, args.suffix, args.num_classes,
                                args.reduce_zero_label, args.ignore_index)]
    if not (args.source.endswith('.py') and osp.isfile(args.source)):
        parser.error(f'{args.source} is neither a config file nor a '
                     'directory')
    found = []
    for split in args.split:
        try:
            found.append(labels_from_config(args.source, split,
                                            args.num_classes,
                                            args.reduce_zero_label))
        except (FileNotFoundError, ValueError) as error:
            parser.error(f'cannot list the {split} split of {args.source}: '
                         f'{error}')
    return found


def scan(labels):
    """Print the report of one set of label maps; its errors and
    warnings."""
    if labels.inventory is not None:
        print(labels.inventory.summary())
    counts = count_labels(labels.files)
    print(f'{len(labels.files)} label maps, num_classes='
          f'{labels.num_classes}, reduce_zero_label='
          f'{labels.reduce_zero_label}, ignore index {labels.ignore_index}')
    print('\n'.join(table(counts, labels)))
    errors, warnings = find_problems(counts, labels)
    for level, messages in (('WARNING', warnings), ('ERROR', errors)):
        for message in messages:
            print(f'{level}: {message}')
    return errors, warnings


def main():
    parser, args = parse_args()
    errors, warnings = [], []
    for labels in find_labels(parser, args):
        if not labels.files:
            parser.error(f'no label maps found for {args.source} (check '
                         'data_root, data_prefix and the suffixes)')
        found = scan(labels)
        errors, warnings = errors + found[0], warnings + found[1]
        if labels.num_classes is None:
            print('(pass --num-classes to check the values against it)')
    print('no problems found' if not errors and not warnings else
          f'{plural(errors, "error")}, {plural(warnings, "warning")}')
    raise SystemExit(1 if errors else 0)


if __name__ == '__main__':
    main()
