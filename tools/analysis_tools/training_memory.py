"""Training memory of whole models or backbones, counted: the bytes one
training step keeps for backward (per image) plus parameters, gradients and
optimizer state, side by side with ratios to the first row.

    python tools/analysis_tools/training_memory.py MODEL [MODEL ...]
        [--peer KEY=VALUE ...] [--with-cp] [--shape H W] [--batch 1]
        [--fake]

A MODEL is a config file (its whole network: backbone, neck, heads and
loss, at the config's crop, detectors up to their RPN or dense head; the
optimizer of its ``optim_wrapper``, under autocast for
``AmpOptimWrapper``) or a name of ``benchmark.py --list`` (the backbone
alone, AdamW). ``--peer
KEY=VALUE ...`` adds, before each config, the same config with these
options (mmengine ``--cfg-options`` syntax), e.g. SETR on mmseg's own ViT:

    python tools/analysis_tools/training_memory.py \\
        configs/setr/setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py \\
        --peer model.backbone.type=VisionTransformer --with-cp --fake

``--with-cp`` adds a row with ``backbone.with_cp=True`` after each row.
``--fake`` runs the forward pass on fake tensors (no arithmetic, no memory:
any crop of any model; the CPU's kernel choice). What is counted and what a
GPU adds: :mod:`mmhvit.analysis.training_memory` and README "Training
memory".
"""
import argparse
import logging
import os.path as osp

from mmengine.config import DictAction
from mmengine.logging import MMLogger

import mmhvit  # noqa: F401
from mmhvit.analysis.benchmark import build, check_names
from mmhvit.analysis.training_memory import count_config, count_training_memory

MIB = 2**20


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('models', nargs='+')
    parser.add_argument('--peer', nargs='+', action=DictAction, default={},
                        metavar='KEY=VALUE',
                        help='a peer row before each config: the config '
                        'with these options')
    parser.add_argument('--with-cp', action='store_true',
                        help='also each model with backbone.with_cp=True')
    parser.add_argument('--shape', type=int, nargs=2,
                        help='input size (default: the config\'s crop, '
                        '224 x 224 for backbones)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--fake', action='store_true',
                        help='count on fake tensors')
    return parser.parse_args()


def variants(name, peer):
    """``(label, options)`` of the rows of one MODEL: its peer first."""
    rows = [(osp.basename(name), {})]
    if peer and osp.isfile(name):
        rows.insert(0, (f'{osp.basename(name)} [peer]', peer))
    return rows


def count(name, options, with_cp, args):
    """The :class:`TrainingMemory` of one row and its input size."""
    if osp.isfile(name):
        return count_config(name, options, args.shape, args.batch,
                            args.fake, with_cp)
    _, backbone = build(name, 'cpu', **(dict(with_cp=True) if with_cp else
                                        {}))
    shape = tuple(args.shape or (224, 224))
    return count_training_memory(backbone, shape, batch=args.batch,
                                 fake=args.fake), shape


def main():
    args = parse_args()
    check_names(args.models)
    # the optimizer constructor logs every parameter's options
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    print(f'training step, batch {args.batch}, '
          f'{"fake" if args.fake else "real"} CPU tensors; MiB')
    header = (f'{"model":<58} {"size":>9} {"saved/img":>9} {"params":>7} '
              f'{"grads":>7} {"optim":>7} {"total":>7} {"saved x":>7} '
              f'{"total x":>7}')
    print(header)
    reference = None
    for name in args.models:
        for label, options in variants(name, args.peer):
            for with_cp in (False, True) if args.with_cp else (False, ):
                row = label + (' with_cp' if with_cp else '')
                try:
                    memory, shape = count(name, options, with_cp, args)
                except TypeError as error:
                    if with_cp and 'with_cp' in str(error):
                        print(f'{row:<58} n/a (no with_cp)')
                        continue
                    raise
                reference = reference or memory
                print(f'{row:<58} {shape[0]:>4}x{shape[1]:<4} '
                      f'{memory.saved / memory.batch / MIB:9.1f} '
                      f'{memory.params / MIB:7.1f} {memory.grads / MIB:7.1f} '
                      f'{memory.optimizer / MIB:7.1f} '
                      f'{memory.total / MIB:7.1f} '
                      f'{memory.saved / reference.saved:7.3f} '
                      f'{memory.total / reference.total:7.3f}')


if __name__ == '__main__':
    main()
