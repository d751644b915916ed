"""A checkpoint when the job is told to stop (SIGTERM)."""
import logging
import os
import os.path as osp
import signal
import threading
from typing import Optional

import torch
from mmengine.dist import all_reduce, barrier, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmhvit.registry import HOOKS
from mmhvit.utils import latest_checkpoint
from .checkpoint_hook import ATOMIC_BACKEND_ARGS

#: Exit status of a run stopped by SIGTERM (128 + 15, what schedulers see
#: from a job their SIGTERM ended).
EXIT_STATUS = 128 + signal.SIGTERM


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Save a checkpoint and stop when the process receives SIGTERM, which
    schedulers (Slurm, Kubernetes, cloud preemption) send some seconds
    before they kill a job.

    Between iterations (fetching data, validating) the state after the
    last iteration is saved at once as ``iter_<i>.pth`` (atomically) and
    named in ``last_checkpoint``, and the run exits with status 143
    (``SystemExit``), so ``tools/train.py --resume`` continues from it
    (``mmhvit.EpochBasedTrainLoop`` at the iteration it stopped, in the
    middle of an epoch too; mmengine's repeats the epoch from its start).
    A validation it interrupted is marked in the checkpoint's meta
    (``validation_pending``), and the resumed run runs it before training
    on (after the last iteration: instead of ending without metrics), then
    saves the checkpoint again without the mark. During
    an iteration, the signal is logged with the checkpoint ``--resume``
    would take at that moment, the iteration ends and the state after it is
    saved the same way; when it does not end within ``timeout`` seconds,
    the process exits with status 143 without a new checkpoint, after
    logging the one to resume from. Under DDP every process stops after the
    same iteration when the signal reaches them during it.

    A scheduler signals every process of the job, the data-loader workers
    too: torch then makes the main process fail where it next needs them
    (its SIGCHLD handler, or the next batch, which the dead worker held),
    hence the save without waiting between iterations and a silenced
    SIGCHLD handler during one. mmhvit's base runtimes
    (``configs/_base_/runtimes/``) list this hook in ``custom_hooks``.

    Args:
        timeout (float): Seconds to wait for the iteration in progress to
            end.
            Keep it below the scheduler's grace period (Slurm's
            ``KillWait`` and Kubernetes' ``terminationGracePeriodSeconds``
            default to 30 s) minus the time a checkpoint takes to write.
    """
    priority = 'LOWEST'  # after_train_iter: after the regular checkpoint

    def __init__(self, timeout: float = 20.):
        self.timeout = timeout
        self._runner = None
        self._pid = None
        self._previous = None
        self._signalled = False
        self._stepping = False  # inside an iteration's hooks and step
        self._validating = False
        self._pending = False  # resumed from a checkpoint saved validating
        self._start = self._done = 0  # iterations at the start, completed
        self._watchdog: Optional[threading.Timer] = None

    def before_train(self, runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            print_log('PreemptionHook: training runs outside the main thread, '
                      'where Python cannot handle signals; SIGTERM is not '
                      'handled.', logger='current', level=logging.WARNING)
            return
        self._runner, self._pid = runner, os.getpid()
        self._start = self._done = runner.iter
        self._signalled = self._stepping = False
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        _warn_of_repeated_iterations(runner.train_loop)
        if self._pending and runner.val_loop is not None:
            print_log(f'Resumed from a checkpoint saved while the validation '
                      f'after iteration {runner.iter} ran (stopped by '
                      'SIGTERM): running it again before training on.',
                      logger='current', level=logging.WARNING)
            self._pending = False
            runner.val_loop.run()
            self._done = runner.iter
            print_log(f'Validated; saved {self._save(runner)} again without '
                      'the mark.', logger='current', level=logging.WARNING)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = bool(runner._resume and checkpoint.get(
            'meta', {}).get('validation_pending'))

    def before_val(self, runner) -> None:
        self._validating = True

    def after_val(self, runner) -> None:
        self._validating = False

    def after_train(self, runner) -> None:
        self._restore()

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._stepping = True

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        self._done, self._stepping = runner.iter + 1, False
        stop = torch.tensor(float(self._signalled))
        if is_distributed():
            all_reduce(stop, op='max')  # every process stops here
        if stop.item():
            self._stop(synchronize=True)

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def _on_sigterm(self, signum, frame) -> None:
        """Between iterations the state is complete: save and stop at once
        (the data loader may wait for a worker the same SIGTERM killed).
        During one, let it end, within ``timeout``."""
        if os.getpid() != self._pid or self._signalled:
            return  # a forked child, or a repeated signal
        self._signalled = True
        # torch's SIGCHLD handler would raise in the middle of the step when
        # the same SIGTERM kills the data-loader workers
        signal.signal(signal.SIGCHLD, _ignore)
        if not self._stepping:
            self._stop(synchronize=False)
        print_log(
            f'SIGTERM received during iteration {self._done + 1}: a '
            f'checkpoint is saved when it ends (at most {self.timeout:g} s), '
            'then the run stops. Until then `--resume` continues from '
            f'{_resume_point(self._runner.work_dir)}.', logger='current',
            level=logging.WARNING)
        self._watchdog = threading.Timer(self.timeout, self._give_up)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _stop(self, synchronize: bool) -> None:
        """Save the state after the last completed iteration, name it in
        ``last_checkpoint`` and exit with status 143."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        runner = self._runner
        if self._done > self._start:
            path = self._save(runner)
            message = (f'Stopped by SIGTERM after iteration {self._done}'
                       f'{" while validating" * self._validating}: saved '
                       f'{path} (named in last_checkpoint). Continue with '
                       '`tools/train.py CONFIG --resume`'
                       f'{" (it validates first)" * self._validating}.')
        else:
            message = ('Stopped by SIGTERM before an iteration ended: nothing '
                       'new to save; `--resume` continues from '
                       f'{_resume_point(runner.work_dir)}.')
        if synchronize:
            barrier()
        print_log(message, logger='current', level=logging.WARNING)
        self._restore()
        raise SystemExit(EXIT_STATUS)

    def _save(self, runner) -> str:
        """``iter_<i>.pth`` of the last completed iteration ``i``, named in
        ``last_checkpoint``; returns its path."""
        filename = f'iter_{self._done}.pth'
        runner.save_checkpoint(
            runner.work_dir, filename, backend_args=ATOMIC_BACKEND_ARGS,
            meta=dict(epoch=runner.epoch, iter=self._done,
                      validation_pending=self._validating))
        path = osp.join(runner.work_dir, filename)
        if runner.rank == 0:
            with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
                f.write(path)
        return path

    def _give_up(self) -> None:
        print_log(
            f'SIGTERM: no iteration ended within {self.timeout:g} s, stopping '
            'without a new checkpoint. `--resume` continues from '
            f'{_resume_point(self._runner.work_dir)}.', logger='current',
            level=logging.ERROR)
        logging.shutdown()
        os._exit(EXIT_STATUS)


def _warn_of_repeated_iterations(loop) -> None:
    """Say which iterations mmengine's epoch-based loop, resumed in the
    middle of an epoch, trains again (it restarts the epoch)."""
    if type(loop) is not EpochBasedTrainLoop:
        return  # iteration-based, or mmhvit's loop, which skips them
    done = loop.iter - loop.epoch * len(loop.dataloader)
    if done > 0:
        print_log(
            f'Resumed after iteration {loop.iter}, in the middle of epoch '
            f"{loop.epoch + 1}: mmengine's EpochBasedTrainLoop restarts the "
            f'epoch, so its first {done} batches are trained again (the run '
            f'ends {done} iterations later than the uninterrupted one, on '
            'another learning rate). '
            "train_cfg.type='mmhvit.EpochBasedTrainLoop' (tools/train.py's) "
            'continues at the iteration it stopped.',
            logger='current', level=logging.WARNING)


def _resume_point(work_dir: str) -> str:
    return latest_checkpoint(work_dir) or 'the start (no checkpoint yet)'


def _ignore(signum, frame) -> None:
    """A Python-level handler that does nothing."""
