"""Measure every model of the model index against its paper row and print
the model-zoo table.

    python tools/analysis_tools/model_zoo.py [--collections HLG SETR ...]
        [--out table.md | --write | --check]
        [--json work_dirs/model_zoo.json] [--no-macs]
        [--count-memory missing|all]

The table goes to the screen unless ``--out FILE`` names a file (its
links to the configs relative to that file's directory, to ``docs/`` on
the screen);
``--write`` replaces the tracked ``docs/model_zoo.md`` and ``--check`` exits
with status 1 when that file differs from the measured table.

For each entry of the metafiles listed in ``model-index.yml`` it builds the
config's model (no weights), counts parameters (auxiliary heads included,
as most papers count them, unless the entry's metadata says ``Auxiliary
Heads Counted: false``) and, where the paper gives FLOPs, the
multiply-accumulates at the paper's input size (see ``get_flops.py`` for
what is counted), and writes one markdown table per collection: paper vs
measured with the relative difference. ``tests/test_configs.py`` fails
when a row's parameters drift from the paper beyond its tolerance.

Dense configs (segmentation, detection) also get their training memory,
counted by ``training_memory.py`` (one step at the config's crop, batch 2,
fake tensors): saved activations per image, and weights + gradients +
optimizer state. Counting takes minutes over all configs, so the figures
are kept in the metafiles (``Training Memory Per Image (MiB)``, ``Training
Memory Fixed (MiB)``); ``--count-memory missing`` counts the entries that
lack them, ``--count-memory all`` recounts every one (after a model
change), rewriting only those lines.
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
from collections import defaultdict

from mmengine.config import Config

from mmhvit import compat
from mmhvit.analysis.model_zoo import (measure_config, metafile_models,
                                       set_metadata)
from mmhvit.analysis.training_memory import MEMORY_FIELDS, config_memory_fields

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = 'docs/model_zoo.md'


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--collections', nargs='*',
                        help='only these collections (default: all)')
    target = parser.add_mutually_exclusive_group()
    target.add_argument('--out', help='write the table to this file')
    target.add_argument('--write', action='store_true',
                        help=f'write the tracked {DOC}')
    target.add_argument('--check', action='store_true',
                        help=f'exit with status 1 when {DOC} differs from '
                        'the measured table')
    parser.add_argument('--json', help='also save the measurements here; '
                        'rows already in it are reused (delete it to '
                        're-measure)')
    parser.add_argument('--no-macs', action='store_true',
                        help='parameters only (fast)')
    parser.add_argument('--count-memory', choices=('missing', 'all'),
                        help='count the training memory of the dense '
                        'configs whose metafile entries lack it, or of all, '
                        'and write it to the metafiles')
    return parser.parse_args()


def count_memory(entry, which):
    """Count the training memory of a dense config's entry (``which``:
    ``'all'``, or ``'missing'`` where the metafile lacks it) and write it
    to its metafile; its metadata with the new fields."""
    metadata = entry['Metadata']
    if which == 'missing' and MEMORY_FIELDS[0] in metadata:
        return metadata
    cfg = Config.fromfile(entry['Config'])
    if cfg.default_scope not in ('mmseg', 'mmdet'):
        return metadata
    # a process per config: a fake count does not give its model's memory
    # back (gigabytes for ViT-L) until the process ends; forked from a
    # server that has run no parallel torch op (a fork of this process can
    # hang in OpenMP)
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload(['mmhvit.analysis.training_memory'])
    with context.Pool(1) as pool:
        fields = pool.apply(config_memory_fields, (entry['Config'], ))
    set_metadata(osp.join(ROOT, entry['Metafile']), entry['Name'], fields)
    return dict(metadata, **fields)


def measure(entry, with_macs):
    metadata = entry['Metadata']
    row = dict(name=entry['Name'], collection=entry['In Collection'],
               config=osp.relpath(entry['Config'], ROOT),
               paper_params=metadata.get('Parameters'),
               paper_flops=metadata.get('FLOPs'))
    skip = ('auxiliary_head', ) if metadata.get(
        'Auxiliary Heads Counted') is False else ()
    result = measure_config(
        entry['Config'], skip=skip,
        macs=with_macs and row['paper_flops'] is not None)
    row.update(result)
    return row


def relative(ours, paper):
    if ours is None or paper is None:
        return '–'
    return f'{100 * (ours / paper - 1):+.1f} %'


def giga(value, unit=1e9, digits=2):
    return '–' if value is None else f'{value / unit:.{digits}f}'


def markdown(rows, where):
    """The table of ``rows``, its links to the configs relative to the
    directory ``where`` it is written to."""
    lines = [
        '# Model zoo: paper vs measured',
        '',
        'Generated by `tools/analysis_tools/model_zoo.py` from the metafiles '
        'listed in `model-index.yml`. Parameters include auxiliary heads '
        'except where the paper leaves them out (SETR-PUP-HLG). MACs '
        '(multiply-accumulates, 1 MAC = 2 FLOPs; the '
        "papers' FLOPs columns are MACs) are counted where the paper gives "
        'FLOPs, at its input size, by `tools/analysis_tools/get_flops.py`: '
        'convolutions, linear layers, attention, deformable convolutions and '
        'clustering distances. Rows more than 0.5 % off the paper in '
        'parameters are explained below their table (the metafiles\' '
        '`Parameters Note`); tests/test_configs.py fails when a row leaves '
        '0.5 % without one, or drifts from the count recorded with it. The '
        'papers do not say how they counted FLOPs. Results of the models '
        'are the papers\'; see each family\'s README.',
        '',
        'Training memory (dense configs; `model_zoo.py --count-memory '
        'all`): '
        'what one training step at the config\'s crop (batch 2) keeps, '
        'counted by '
        '`tools/analysis_tools/training_memory.py` (README "Training '
        'memory"): the activations saved for backward per image, and the '
        'weights, gradients and optimizer state, which do not grow with the '
        'batch. A batch of B needs about fixed + B x per image; a GPU adds '
        'its workspace, the allocator\'s caching and the CUDA / cuDNN '
        'context. Detectors are counted up to their dense head (backbone, '
        'neck, RPN or single-stage head), without RoI heads and loss.',
    ]
    by_collection = defaultdict(list)
    for row in rows:
        by_collection[row['collection']].append(row)
    for collection, group in by_collection.items():
        lines += [
            '', f'## {collection}', '',
            '| model | params, paper (M) | ours (M) | diff | FLOPs, paper '
            '(G) | ours, MACs (G) | diff | input | training memory / image '
            '(MiB, counted) | + fixed (MiB) |',
            '|---|---|---|---|---|---|---|---|---|---|'
        ]
        for row in group:
            lines.append(
                f"| [{row['name']}]"
                f"({osp.relpath(osp.join(ROOT, row['config']), where)}) "
                f"| {giga(row['paper_params'], 1e6, 1)} "
                f"| {giga(row['params'], 1e6, 3)} "
                f"| {relative(row['params'], row['paper_params'])} "
                f"| {giga(row['paper_flops'], digits=1)} "
                f"| {giga(row.get('macs'))} "
                f"| {relative(row.get('macs'), row['paper_flops'])} "
                f"| {row['shape'][0]}x{row['shape'][1]} "
                f"| {row.get('memory') or '–'} | {row.get('fixed') or '–'} |")
        lines += notes(group)
    return '\n'.join(lines) + '\n'


def notes(rows):
    """Markdown lines giving each distinct parameter note once, with the
    rows it explains."""
    by_note = defaultdict(list)
    for row in rows:
        if row.get('note'):
            by_note[row['note']].append(row['name'])
    lines = ['', 'Parameter differences:', ''] if by_note else []
    for note, names in by_note.items():
        lines.append(f"- {', '.join(names)}: {note}")
    return lines


def load_rows(path):
    if not path or not osp.isfile(path):
        return {}
    with open(path) as f:
        return {row['name']: row for row in json.load(f)}


def save_rows(path, rows):
    if path:
        with open(path, 'w') as f:
            json.dump(rows, f, indent=1)


def main():
    args = parse_args()
    compat.apply()  # each upstream warning once, not once per model
    done, rows = load_rows(args.json), []
    for entry in metafile_models(ROOT):
        if args.collections and entry['In Collection'] not in \
                args.collections:
            continue
        row = done.get(entry['Name'])
        if row is None or (row['paper_flops'] and 'macs' not in row
                           and not args.no_macs):
            row = measure(entry, not args.no_macs)
        metadata = count_memory(entry, args.count_memory) if \
            args.count_memory else entry['Metadata']
        row['note'] = metadata.get('Parameters Note')
        row['memory'], row['fixed'] = (metadata.get(k) for k in MEMORY_FIELDS)
        rows.append(row)
        save_rows(args.json, rows)
        print(f"{row['name']:<60} {giga(row['params'], 1e6, 3):>9} M "
              f"{giga(row.get('macs')):>9} G MACs", flush=True)
    out = osp.join(ROOT, DOC) if args.write else args.out
    table = markdown(rows, osp.dirname(osp.abspath(out)) if out else
                     osp.join(ROOT, 'docs'))
    if args.check:
        with open(osp.join(ROOT, DOC)) as f:
            same = f.read() == table
        print(f'{DOC} is {"up to date" if same else "out of date (--write)"}')
        raise SystemExit(0 if same else 1)
    if out is None:
        print(table)
        return
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(table)
    print(f'Wrote {out}')


if __name__ == '__main__':
    main()
