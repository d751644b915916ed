"""Write a small synthetic dataset in a real benchmark's on-disk layout.

Example::

    python tools/misc/make_synthetic_data.py ade20k data/synthetic_ade \\
        --num-train 200 --num-val 50 --size 256 256 --num-classes 4

It prints the class names the upstream dataset class reads for the labels
written (and the shape each one shows): pass them as
``metainfo=dict(classes=...)`` to train on exactly these classes. See
:mod:`mmhvit.datasets.synthetic` for the layouts and label conventions.
"""
import argparse
import os

from mmhvit.datasets.synthetic import SHAPE_CLASSES, WRITERS, dataset_classes


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dataset', choices=sorted(WRITERS))
    parser.add_argument('out_dir', help='output root directory')
    parser.add_argument('--num-train', type=int, default=100)
    parser.add_argument('--num-val', type=int, default=20)
    parser.add_argument(
        '--size', type=int, nargs=2, metavar=('H', 'W'),
        help='image size (default: the dataset writer\'s default)')
    parser.add_argument(
        '--num-classes', type=int, default=4,
        help=f'number of shape classes, 1..{len(SHAPE_CLASSES)}')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    kwargs = dict(num_train=args.num_train, num_val=args.num_val,
                  num_classes=args.num_classes, seed=args.seed)
    if args.size:
        kwargs['size'] = tuple(args.size)
    data_root = WRITERS[args.dataset](args.out_dir, **kwargs)
    num_files = sum(len(files) for _, _, files in os.walk(data_root))
    classes = dataset_classes(args.dataset, args.num_classes)
    print(f'Wrote {args.dataset}: {num_files} files under {data_root} (use '
          'it as data_root).\nLabels, as the dataset class reads them:')
    for label, (name, shape) in enumerate(classes):
        print(f'  {label}: {name!r} ({shape})')
    names = tuple(name for name, _ in classes)
    print(f'To train on these {len(names)} classes only: '
          f'metainfo=dict(classes={names}) and num_classes={len(names)} '
          'in the heads.')


if __name__ == '__main__':
    main()
