"""Files a config names or a run writes: messages about those that are
not there, and the checkpoint a resumed run continues from."""
import glob
import logging
import os.path as osp
from typing import Optional

from mmengine.logging import print_log


def missing_checkpoint_message(path: str, key: str = 'checkpoint') -> str:
    """Why ``path``, a local checkpoint named by the setting ``key``, is
    missing and what to do.

    A path of the form ``work_dirs/<config name>/<file>`` is the output of
    training that config (mmhvit's dense ClusTR and HAFA configs start from
    ImageNet runs of their own, which have no public weights): the message
    names the config and the command that writes the file, and how to start
    without it.
    """
    message = f'{key} {path} does not exist.'
    parts = osp.normpath(path).split(osp.sep)
    if len(parts) >= 3 and parts[-3] == 'work_dirs':
        name = parts[-2]
        found = sorted(glob.glob(osp.join('configs', '*', f'{name}.py')))
        config = found[0] if found else f'configs/<family>/{name}.py'
        message += (
            f' It is a checkpoint that training the config {name}.py writes '
            f'(`python tools/train.py {config}`, e.g. the ImageNet '
            'pre-training that a dense config starts from, which has no '
            'public weights): train that config first, point '
            f'{key} at your copy, or start without it')
        init_cfg = key[:-len('.checkpoint')]
        message += (f' (--cfg-options {init_cfg}=None: random weights)'
                    if key.startswith('model.') else ' (init_cfg=None)')
        message += '.'
    return message


def local_checkpoint_missing(path) -> Optional[bool]:
    """Whether ``path`` is a local file path that does not exist (None for
    URLs and other storage)."""
    if not isinstance(path, str) or '://' in path:
        return None
    return not osp.isfile(osp.expanduser(path))


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` without a value continues from.

    The one ``last_checkpoint`` names when it is there; otherwise (the
    file is missing, empty, or names a checkpoint that ``max_keep_ckpts``
    removed) the ``iter_*.pth`` / ``epoch_*.pth`` of ``work_dir`` furthest
    into training (the highest number; between an ``epoch_*`` and an
    ``iter_*``, as a preempted epoch-based run leaves, the iteration in
    their meta decides), with a warning naming it; None when there is
    none. File times do not count: a copied work dir has them all alike.
    Checkpoints are written atomically (``mmhvit.compat``), so every one
    found is complete.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = ''
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
    highest = [_highest(work_dir, kind) for kind in ('iter', 'epoch')]
    found = [path for path in highest if path]
    if len(found) == 2:
        from mmhvit.compat import checkpoint_meta  # torch.load, lazily
        found = [max(found, key=lambda path: checkpoint_meta(path)['iter'])]
    if not found:
        return None
    print_log(f'{pointer} is missing or names a missing file ({named!r}); '
              f'resuming from the checkpoint furthest into training, '
              f'{found[0]} (the highest iteration / epoch of the work dir).',
              logger='current', level=logging.WARNING)
    return found[0]


def _highest(work_dir: str, kind: str) -> Optional[str]:
    """``<kind>_<n>.pth`` of ``work_dir`` with the highest ``n``."""
    numbered = {}
    for path in glob.glob(osp.join(work_dir, f'{kind}_*.pth')):
        number = osp.basename(path)[len(kind) + 1:-len('.pth')]
        if number.isdigit():
            numbered[int(number)] = path
    return numbered[max(numbered)] if numbered else None
