"""One training at a time in a work dir.

Two runs in one work dir write the same checkpoint names, interleave their
logs and overwrite each other's saved config: one run may end with the
other's weights in its ``iter_N.pth`` and exit 0. The lock is a POSIX
record lock (``fcntl.lockf``) on ``<work_dir>/.train.lock``: the kernel
releases it when its process ends, however it ends (SIGKILL included), and
the processes a run forks (data-loader workers) do not hold it, so a killed
run never leaves it stuck. The file records who holds it, for the message.
"""
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Dict

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmhvit.registry import HOOKS

LOCK_FILE = '.train.lock'
# work dir (real path) -> descriptor of its lock file, for the locks this
# process holds (closing any descriptor of the file would release it)
_HELD: Dict[str, int] = {}


class WorkDirInUseError(RuntimeError):
    """Another process trains in the same work dir."""


def lock_work_dir(work_dir: str) -> None:
    """Hold the training lock of ``work_dir`` in this process (a no-op when
    it already does).

    Raises:
        WorkDirInUseError: naming the process, host and command that hold
            it.
        NotADirectoryError: when ``work_dir`` is a file.
    """
    key = osp.realpath(work_dir)
    if key in _HELD:
        return
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise NotADirectoryError(
            f'The work dir {work_dir} is a file: pass --work-dir a directory.')
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise WorkDirInUseError(_in_use(work_dir, path)) from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(dict(
        pid=os.getpid(), host=socket.gethostname(),
        command=' '.join(sys.argv),
        started=time.strftime('%Y-%m-%d %H:%M:%S'))).encode())
    _HELD[key] = fd


def unlock_work_dir(work_dir: str) -> None:
    """Release the lock of ``work_dir`` if this process holds it."""
    fd = _HELD.pop(osp.realpath(work_dir), None)
    if fd is not None:
        os.close(fd)  # releases the record lock


def _in_use(work_dir: str, path: str) -> str:
    try:
        with open(path) as f:
            holder = json.load(f)
        who = (f"process {holder['pid']} on {holder['host']} "
               f"(`{holder['command']}`, started {holder['started']})")
    except (OSError, ValueError, KeyError):
        who = 'another process'
    return (f'The work dir {work_dir} is in use: {who} trains there and '
            f'holds {path}. Two runs in one work dir overwrite each other\'s '
            'checkpoints, logs and config. Wait for it to end, stop it, or '
            'pass another --work-dir.')


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Refuse to train in a work dir where another process trains.

    The main process takes the lock of the work dir (:func:`lock_work_dir`)
    before the first iteration and releases it after the last; the lock
    dies with its process, so a killed run leaves none behind.
    ``tools/train.py`` takes it before building the runner, so a refused run
    has not even written its config or log there. mmhvit's base runtimes
    (``configs/_base_/runtimes/``) list this hook in ``custom_hooks``.
    """
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        if is_main_process():
            lock_work_dir(runner.work_dir)

    def after_train(self, runner) -> None:
        if is_main_process():
            unlock_work_dir(runner.work_dir)
