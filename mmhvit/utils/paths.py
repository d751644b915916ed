"""Messages about files a config names that are not there."""
import glob
import os.path as osp
from typing import Optional


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
