"""Reproduce a paper table: train and test every row, compare with the
paper.

    python tools/reproduce.py list [TABLE]
    python tools/reproduce.py run TABLE [TABLE ...]
        --launcher {none,pytorch,slurm}
        [--gpus N] [--partition P] [--rows 1 3-5 NAME ...]
        [--work-root work_dirs] [--dry-run]
        [--cfg-options KEY=VALUE ...]
    python tools/reproduce.py run TABLE --smoke    # minutes on the CPU
    python tools/reproduce.py report TABLE [--tolerance 0.5] [--out FILE]
        [--no-params]

TABLE is a table as the metafiles name it (``'setr_hlg Tab. 5'``) or its
slug (``setr_hlg-tab5``); ``list`` prints them. The metafiles'
``Paper Table`` / ``Paper Row`` fields say which row each config reproduces.

``run`` trains each row's config through ``tools/train.py``,
``tools/dist_train.sh`` or ``tools/slurm_train.sh`` (one after the other,
into ``WORK_ROOT/<config name>``), then tests its final checkpoint through
``tools/test.py`` / ``dist_test.sh`` / ``slurm_test.sh`` (``--tta`` for
multi-scale rows). Run again, it skips finished rows and resumes interrupted
ones from their latest checkpoint; a failed row is reported with the last
error of its log and the other rows go on. Each training launches the
paper's processes: its config's ``auto_scale_lr.base_batch_size`` (the
paper's total batch) over its ``train_dataloader.batch_size``. With
``--gpus N`` (or ``--launcher none``: one process) of another total batch,
the lr is scaled (``tools/train.py --auto-scale-lr``) and the run says so.

The console names the log of the step that runs (``WORK_ROOT/<config
name>/train.log``, ``test-ss.log``); ``tail -f`` it to follow.

``--smoke`` checks that a table runs end to end, in minutes on the CPU,
with one process (``--launcher none``): every row's model is trained on a
synthetic set in its dataset's layout (``WORK_ROOT/smoke_imagenet``,
``smoke_ade20k``, ``smoke_cityscapes``, ``smoke_coco``, written on first
use), tested and reported; the numbers mean nothing. Classification rows:
2 epochs of one batch of 4 32x32 images. Segmentation and detection rows:
a child config (``WORK_ROOT/smoke_configs/<config name>.py``) with images
shrunk to a shorter side of 64 and 64x64 crops, 2 iterations (detection: 1
epoch of 2 batches of 2), from random weights (the runs dense rows start
from are not trained). Rows on Pascal Context or Cityscapes with coarse
labels run unchanged and fail without their data
(``mmhvit.analysis.reproduce.smoke_config``). Its work root defaults to
``work_dirs/smoke``, apart from real runs.

``report`` reads the metrics mmengine's test wrote and prints, and writes
as markdown (default ``WORK_ROOT/<table slug>.md``), paper value, ours,
difference (marked beyond ``--tolerance``), parameters (paper / ours) and
status (done, running, interrupted, failed, not started) of every row.
"""
import argparse
import os
import os.path as osp
import sys

from mmhvit.analysis.reproduce import (TOLERANCE, Launcher, find_table,
                                       list_tables, paper_tables, report,
                                       run_table, select_rows, table_slug)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    listing = commands.add_parser('list', help='every table with its rows, '
                                  'or one table')
    listing.add_argument('table', nargs='?')
    for name in ('run', 'report'):
        sub = commands.add_parser(name)
        if name == 'run':
            sub.add_argument('tables', nargs='+', metavar='table',
                             help='one or more tables, run one after the '
                             'other')
        else:
            sub.add_argument('table')
        sub.add_argument('--work-root',
                         help='one work dir per config under it (default: '
                         "work_dirs, tools/train.py's, where the dense "
                         'configs find the ImageNet runs they start from; '
                         'work_dirs/smoke with --smoke)')
        sub.add_argument('--rows', nargs='+',
                         help='only these rows: 1-based numbers, ranges '
                         '(2-4) or parts of config names')
        if name == 'run':
            sub.add_argument('--launcher',
                             choices=['none', 'pytorch', 'slurm'],
                             help='required unless --smoke (none)')
            sub.add_argument('--smoke', action='store_true',
                             help='tiny synthetic data, 2 epochs or '
                             'iterations, one process on the CPU: the table '
                             'runs end to end in minutes')
            sub.add_argument('--gpus', type=int,
                             help="processes per row (default: the paper's, "
                             "auto_scale_lr.base_batch_size over the "
                             "config's batch_size; another total batch "
                             'scales the lr)')
            sub.add_argument('--partition', help='slurm partition')
            sub.add_argument('--dry-run', action='store_true',
                             help='print the commands, run nothing')
            sub.add_argument('--cfg-options', nargs='+', default=[],
                             metavar='KEY=VALUE',
                             help='passed to every train and test command')
        else:
            sub.add_argument('--tolerance', type=float, default=TOLERANCE,
                             help='mark |ours - paper| above this')
            sub.add_argument('--out', help='markdown file (default: '
                             'WORK_ROOT/<table slug>.md)')
            sub.add_argument('--no-params', action='store_true',
                             help='skip counting our parameters')
    args = parser.parse_args()
    if args.command == 'run' and args.smoke:
        if args.launcher not in (None, 'none'):
            parser.error('--smoke runs one process: --launcher none')
        args.launcher = 'none'
    elif args.command == 'run' and args.launcher is None:
        parser.error('the following arguments are required: --launcher')
    if args.command != 'list' and args.work_root is None:
        args.work_root = osp.join('work_dirs', 'smoke') if getattr(
            args, 'smoke', False) else 'work_dirs'
    return args


def main():
    args = parse_args()
    tables = paper_tables(ROOT)
    if args.command == 'list':
        table = args.table and find_table(tables, args.table)
        print(list_tables(tables, table), end='')
        return
    if args.command == 'report':
        table = find_table(tables, args.table)
        write_report(table, select_rows(tables[table], args.rows), args.out,
                     args)
        return
    chosen = [find_table(tables, table) for table in args.tables]
    if args.rows and len(chosen) > 1:
        sys.exit('--rows selects rows of one table, not of several.')
    launcher = Launcher(args.launcher, ROOT, args.gpus, args.partition,
                        args.cfg_options,
                        smoke_root=args.work_root if args.smoke else None)
    failed = False
    for table in chosen:
        rows = select_rows(tables[table], args.rows)
        statuses = run_table(rows, args.work_root, launcher, args.dry_run)
        failed = failed or 'failed' in statuses.values()
        if not args.dry_run:
            args.tolerance, args.no_params = TOLERANCE, False
            write_report(table, rows, None, args)
    if failed:
        sys.exit(1)


def write_report(table, rows, out, args):
    """Print the report of ``table`` and write it to ``out`` (default:
    ``WORK_ROOT/<table slug>.md``)."""
    text = report(table, rows, args.work_root, args.tolerance,
                  params=not args.no_params)
    out = out or osp.join(args.work_root, f'{table_slug(table)}.md')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(text)
    print(text + f'\nWritten to {out}')


if __name__ == '__main__':
    main()
