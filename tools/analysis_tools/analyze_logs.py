"""Plot loss / metric curves and time the iterations of mmengine runs.

    python tools/analysis_tools/analyze_logs.py plot_curve RUN [RUN ...]
        [--keys loss mIoU] [--out curves.png] [--legend A B] [--title T]
    python tools/analysis_tools/analyze_logs.py cal_train_time RUN [RUN ...]

RUN is a work dir or a JSON-lines log of mmengine (``vis_data/scalars.json``
or ``<timestamp>/<timestamp>.json``). A work dir's log is every
``<timestamp>/vis_data/scalars.json`` with training records in it (a run and
its ``--resume`` segments), joined in iteration order: where a segment
starts at an iteration an earlier one already logged (it resumed from an
older checkpoint), its records replace the earlier ones from there on.
Training records carry ``iter``; the
validation records that follow them only ``step``, the iteration (iteration
based runs) or the epoch (epoch based runs) they were taken at. Each key gets
its own panel, with one curve per RUN.
"""
import argparse
import glob
import json
import os.path as osp

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(
        description='Plot curves from, or time, mmengine training logs.')
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser(
        'plot_curve', help='draw the values of some keys over training')
    plot.add_argument('runs', nargs='+', metavar='RUN',
                      help='work dir or scalars.json')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='logged keys to plot, e.g. loss mIoU '
                      'coco/bbox_mAP accuracy/top1')
    plot.add_argument('--out', default='curves.png', help='output image')
    plot.add_argument('--legend', nargs='+', help='one name per RUN')
    plot.add_argument('--title', help='figure title')
    timing = commands.add_parser(
        'cal_train_time', help='seconds per training iteration')
    timing.add_argument('runs', nargs='+', metavar='RUN',
                        help='work dir or scalars.json')
    return parser, parser.parse_args()


def find_logs(run):
    """The JSON-lines logs of ``run`` (a work dir: one per timestamp, oldest
    first; or the log itself)."""
    if osp.isfile(run):
        return [run]
    if not osp.isdir(run):
        raise FileNotFoundError(f'{run} does not exist')
    logs = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
    if not logs:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json under {run}')
    return logs


def load_records(path):
    """The records of a JSON-lines log, one dict per line."""
    with open(path) as f:
        try:
            return [json.loads(line) for line in f if line.strip()]
        except json.JSONDecodeError as error:
            raise ValueError(f'{path} is not a JSON-lines log: {error}')


def join_segments(segments):
    """One run's records from its segments (oldest first); a segment's
    records replace the earlier ones from its first training iteration on.
    Segments without training records (test runs) are left out."""
    joined = []
    for records in segments:
        iters = [r['iter'] for r in records if 'iter' in r]
        if not iters:
            continue
        cut = next((i for i, r in enumerate(joined)
                    if r.get('iter', -1) >= iters[0]), len(joined))
        joined = joined[:cut] + records
    return joined


def load_run(run):
    """The records of ``run`` (:func:`find_logs`), segments joined, and how
    many segments it has."""
    logs = find_logs(run)
    if len(logs) == 1:
        return load_records(logs[0]), 1
    segments = [load_records(log) for log in logs]
    return join_segments(segments), sum(
        any('iter' in r for r in records) for records in segments)


def curve(records, key):
    """``(x, y, x_label)`` of ``key``: per iteration for training records,
    per ``step`` (epoch or iteration) for validation records."""
    train = [r for r in records if key in r and 'iter' in r]
    if train:
        return ([r['iter'] for r in train], [r[key] for r in train], 'iter')
    val = [r for r in records if key in r and 'step' in r]
    by_epoch = any('epoch' in r for r in records)
    return ([r['step'] for r in val], [r[key] for r in val],
            'epoch' if by_epoch else 'iter')


def plot_curves(runs, keys, out, legend=None, title=None):
    """Draw one panel per key with one curve per run and save ``out``.

    Args:
        runs (list[str]): Work dirs or JSON-lines logs.
        keys (list[str]): Logged keys, one panel each.
        out (str): Image file to write.
        legend (list[str], optional): Curve name per run (default: the
            paths).
        title (str, optional): Figure title.

    Returns:
        list[str]: One summary line per (run, key), after one line per
        run of several segments.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    legend = legend or runs
    fig, axes = plt.subplots(len(keys), 1, squeeze=False,
                             figsize=(7, 3 * len(keys)))
    lines = []
    for path, name in zip(runs, legend):
        records, segments = load_run(path)
        if segments > 1:
            lines.append(f'{name}: {segments} segments (resumed runs) joined')
        for ax, key in zip(axes[:, 0], keys):
            x, y, x_label = curve(records, key)
            if not x:
                logged = ', '.join(sorted(logged_keys(records)))
                raise ValueError(f'{path} has no {key!r}; it logs {logged}')
            ax.plot(x, y, marker='o' if len(x) < 20 else None, label=name)
            ax.set(xlabel=x_label, ylabel=key)
            lines.append(summary(name, key, x, y, x_label))
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return lines


def logged_keys(records):
    """The keys a log has values for."""
    return {k for r in records for k in r} - {'iter', 'step', 'epoch'}


def summary(name, key, x, y, x_label):
    """First, last and best value of a curve (best: min of losses, max of
    everything else)."""
    best = int(np.argmin(y) if 'loss' in key else np.argmax(y))
    kind = 'min' if 'loss' in key else 'max'
    return (f'{name} {key}: {len(x)} points, {x_label} {x[0]}..{x[-1]}, '
            f'first {y[0]:.4g}, last {y[-1]:.4g}, {kind} {y[best]:.4g} at '
            f'{x_label} {x[best]}')


def train_time(records):
    """Seconds per iteration of the training records (their ``time``, the
    mean over each logging interval).

    Returns:
        dict: ``mean``, ``std``, ``slowest`` / ``fastest`` (iteration,
        seconds) and ``iters`` (the last logged iteration).
    """
    train = [(r['iter'], r['time']) for r in records
             if 'iter' in r and 'time' in r]
    if not train:
        raise ValueError('no training records with "iter" and "time"')
    times = np.array([t for _, t in train])
    return dict(mean=float(times.mean()), std=float(times.std()),
                slowest=max(train, key=lambda r: r[1]),
                fastest=min(train, key=lambda r: r[1]),
                iters=train[-1][0])


def print_train_time(path):
    """One summary of :func:`train_time` for the run at ``path``."""
    t = train_time(load_run(path)[0])
    print(f'{path}\n  {t["mean"]:.4f} s/iter (std {t["std"]:.4f}), slowest '
          f'{t["slowest"][1]:.4f} s at iter {t["slowest"][0]}, fastest '
          f'{t["fastest"][1]:.4f} s at iter {t["fastest"][0]}; '
          f'{t["iters"]} iters take about {t["mean"] * t["iters"] / 60:.1f} '
          'min')


def main():
    parser, args = parse_args()
    if args.command == 'plot_curve' and args.legend \
            and len(args.legend) != len(args.runs):
        parser.error('--legend needs one name per RUN')
    try:
        if args.command == 'cal_train_time':
            for path in args.runs:
                print_train_time(path)
            return
        for line in plot_curves(args.runs, args.keys, args.out,
                                args.legend or args.runs, args.title):
            print(line)
        print(f'wrote {args.out}')
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))


if __name__ == '__main__':
    main()
