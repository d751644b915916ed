"""Checkpoints that are complete or absent, rotated after the save, with
the room for them checked first.

mmengine's ``CheckpointHook`` writes checkpoints in place, so a job killed
while saving leaves a truncated ``iter_N.pth`` (and destroys the good copy
when it overwrites one), and it deletes the checkpoint that falls out of
``max_keep_ckpts`` *before* writing the new one, so with
``max_keep_ckpts=1`` a kill while saving leaves nothing to resume from.
:class:`AtomicCheckpointHook`, selected by mmhvit's base runtimes
(``configs/_base_/runtimes/``), fixes both without touching mmengine:
its saves go through :class:`AtomicLocalBackend`, a file backend
registered with mmengine's ``register_backend``.
"""
import logging
import os
import os.path as osp
import shutil
from typing import Optional, Union

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmhvit.registry import HOOKS

ATOMIC_BACKEND = 'mmhvit_atomic_local'
#: ``backend_args`` of a save through :class:`AtomicLocalBackend`.
ATOMIC_BACKEND_ARGS = dict(backend=ATOMIC_BACKEND)
# Room kept free beyond a checkpoint's size (logs, the filesystem itself).
SPARE_BYTES = 16 << 20
MB = 1 << 20


class NoRoomError(OSError):
    """Too little free disk for a checkpoint; says how much is needed."""

    def __init__(self, path: str, needed: int, free: int, note: str = ''):
        self.path, self.needed, self.free = path, needed, free
        super().__init__(
            f'Saving {osp.basename(path)} needs {needed / MB:.0f} MB but '
            f'{free / MB:.0f} MB are free under {osp.dirname(path)}{note}. '
            'Free some space, save elsewhere (default_hooks.checkpoint.'
            'out_dir) or keep fewer checkpoints (default_hooks.checkpoint.'
            'max_keep_ckpts).')


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend``; ``put`` writes to a hidden temporary
    file beside the target, syncs it and renames it over the target, so a
    file appears complete or not at all, and checks the free space first.
    A failed write leaves no temporary file behind."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        filepath = str(filepath)
        directory, name = osp.split(filepath)
        os.makedirs(directory or '.', exist_ok=True)
        free = shutil.disk_usage(directory or '.').free
        if free < len(obj) + SPARE_BYTES:
            raise NoRoomError(filepath, len(obj) + SPARE_BYTES, free)
        partial = osp.join(directory, f'.{name}.{os.getpid()}.tmp')
        try:
            with open(partial, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, filepath)
        except BaseException:
            if osp.exists(partial):
                os.remove(partial)
            raise


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), with three changes:

    * local checkpoints are written atomically (:class:`AtomicLocalBackend`;
      ``last_checkpoint`` is written after the save, so it never names a
      partial file);
    * the checkpoint that falls out of ``max_keep_ckpts`` is deleted after
      the new one is complete (a kill in between leaves one extra file,
      never none);
    * when the disk has no room for the new checkpoint beside the old ones,
      the checkpoint falling out is deleted first, with a warning, if that
      makes room; otherwise training stops with a ``NoRoomError`` naming the
      sizes, instead of a bare ``OSError: [Errno 28]`` and a partial file.

    Storage other than local files (``out_dir`` with a ``://`` prefix, or
    ``backend_args``) is left to mmengine.
    """

    def __init__(self, *args, out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None, **kwargs):
        if backend_args is None and '://' not in (out_dir or '') and \
                kwargs.get('file_client_args') is None:
            backend_args = dict(ATOMIC_BACKEND_ARGS)
        super().__init__(*args, out_dir=out_dir, backend_args=backend_args,
                         **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta):
        stale = self._pop_stale(step)
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        except NoRoomError as error:
            self._make_room(stale, error)
            stale = None
            super()._save_checkpoint_with_step(runner, step, meta)
        if stale is not None and is_main_process():
            self._remove(stale)

    def _pop_stale(self, step) -> Optional[str]:
        """Take the checkpoint falling out of ``max_keep_ckpts`` off the
        kept list (so mmengine deletes nothing) and return its path."""
        if self.max_keep_ckpts <= 0:  # keep_ckpt_ids exists only then
            return None
        kept = self.keep_ckpt_ids
        if len(kept) < self.max_keep_ckpts or kept[-1] == step:
            return None
        return self.file_backend.join_path(
            self.out_dir, self.filename_tmpl.format(kept.popleft()))

    def _make_room(self, stale: Optional[str], error: NoRoomError) -> None:
        """Delete ``stale`` before saving if that makes room, else raise."""
        freed = _size(stale)
        if error.free + freed < error.needed:
            note = (f' even after deleting {osp.basename(stale)} '
                    f'({freed / MB:.0f} MB)' if stale else '')
            raise NoRoomError(error.path, error.needed, error.free, note)
        print_log(
            f'Saving {osp.basename(error.path)} needs '
            f'{error.needed / MB:.0f} MB, {error.free / MB:.0f} MB are free: '
            f'room for one checkpoint only, so {osp.basename(stale)} is '
            'deleted before saving (a kill during this save would leave no '
            'checkpoint to resume from).',
            logger='current', level=logging.WARNING)
        self._remove(stale)

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed saves directories
            self.file_backend.rmtree(path)


def _size(path: Optional[str]) -> int:
    return osp.getsize(path) if path and osp.isfile(path) else 0
