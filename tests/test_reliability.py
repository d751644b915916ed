"""Crashes while saving, checkpoint rotation, full disks, NaN inputs and
losses, the checkpoint ``--resume`` picks and the ones it refuses, a second
training in a work dir, SIGTERM, the commands the slurm scripts launch and
deterministic mode on CUDA."""
import argparse
import glob
import multiprocessing
import os
import os.path as osp
import re
import runpy
import shutil
import signal
import stat
import subprocess
import sys
import time
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.structures import BaseDataElement
from torch import nn

from mmhvit import compat
from mmhvit.engine import (ConfigError, NonFiniteLossHook, PreemptionHook,
                           PreflightCheckHook, WorkDirLockHook,
                           latest_checkpoint, load_config)
from mmhvit.engine.hooks import (ATOMIC_BACKEND_ARGS, AtomicLocalBackend,
                                 IterationSeedHook, NoRoomError,
                                 WorkDirInUseError, checkpoint_hook,
                                 iteration_seed_hook, lock_work_dir)
from mmhvit.engine.runner import SAFETY_HOOKS, warn_only_determinism_on_cuda
from helpers import ROOT


def crash_before_rename(*args):
    """``os.replace`` of a process killed after writing, before renaming."""
    raise KeyboardInterrupt('killed while saving')


def crash_halfway(self, obj, filepath):
    """``LocalBackend.put`` of a process killed halfway through writing."""
    with open(filepath, 'wb') as f:
        f.write(obj[:len(obj) // 2])
    raise KeyboardInterrupt('killed while saving')


def test_crash_while_saving_keeps_the_last_complete_checkpoint(
        tmp_path, monkeypatch):
    compat.apply()  # the loader that names unreadable files

    def save(value, name):
        mmengine_checkpoint.save_checkpoint(
            {'state_dict': {'w': value}}, str(tmp_path / name),
            backend_args=ATOMIC_BACKEND_ARGS)

    first = str(tmp_path / 'iter_2.pth')
    save(torch.ones(64), 'iter_2.pth')
    (tmp_path / 'last_checkpoint').write_text(first)
    with monkeypatch.context() as patch:
        patch.setattr(os, 'replace', crash_before_rename)
        for target in ('iter_4.pth', 'iter_2.pth'):  # a new file, an overwrite
            with pytest.raises(KeyboardInterrupt):
                save(torch.zeros(64), target)
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'last_checkpoint']
    assert latest_checkpoint(str(tmp_path)) == first
    torch.testing.assert_close(
        torch.load(first, weights_only=False)['state_dict']['w'],
        torch.ones(64))
    # mmengine's own save leaves a truncated file under the final name
    monkeypatch.setattr(LocalBackend, 'put', crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        mmengine_checkpoint.save_checkpoint({'w': torch.zeros(64)},
                                            str(tmp_path / 'iter_6.pth'))
    with pytest.raises(RuntimeError, match='iter_6.pth .* it is truncated'):
        mmengine_checkpoint.CheckpointLoader.load_checkpoint(
            str(tmp_path / 'iter_6.pth'))


def test_resume_falls_back_to_the_checkpoint_furthest_into_training(
        tmp_path):
    """When last_checkpoint names a missing file, the highest iteration is
    taken, not the newest file (a copied work dir has iter_2 newer than
    iter_6); between epoch_* and a preempted run's iter_*, their meta
    decides."""
    assert latest_checkpoint(str(tmp_path)) is None
    for i in (2, 6, 10):
        torch.save({'meta': dict(iter=i)}, tmp_path / f'iter_{i}.pth')
        os.utime(tmp_path / f'iter_{i}.pth', (100 - i, 100 - i))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_12.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')
    for epoch, iteration in ((1, 4), (3, 12)):
        torch.save({'meta': dict(epoch=epoch, iter=iteration)},
                   tmp_path / f'epoch_{epoch}.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_3.pth')
    os.remove(tmp_path / 'epoch_3.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')


class ToyModel(BaseModel):
    """``loss = mean(linear(x) ** 2)``: Inf for a large finite input."""

    def __init__(self, width=1):
        super().__init__()
        self.linear = nn.Linear(2, width)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        return dict(loss=(out ** 2).mean()) if mode == 'loss' else out


class ToyDataset(torch.utils.data.Dataset):
    """Eight samples; the sixth holds ``bad``."""
    metainfo = {}

    def __init__(self, bad=1e30):
        self.bad = bad

    def __len__(self):
        return 8

    def __getitem__(self, index):
        value = self.bad if index == 5 else float(index)
        return dict(inputs=torch.tensor([value, 1.]),
                    data_samples=BaseDataElement(
                        metainfo=dict(img_path=f'img_{index}.png')))


def toy_runner(work_dir, max_iters, model=None, dataset=None, num_workers=0,
               load_from=None, resume=False, train_cfg=None, validate=False,
               param_scheduler=None, **checkpoint):
    """A runner training ``model`` (:class:`ToyModel`) on ``dataset``
    (:class:`ToyDataset`; batch 2, in order, with ``num_workers``
    persistent workers) for ``max_iters`` (or by ``train_cfg``), with
    ``CheckpointHook(**checkpoint)``, from ``load_from``, with
    ``param_scheduler``; with ``validate``,
    validating on the training set at the end (:class:`CountingMetric`)."""
    loader = dict(
        dataset=dataset or ToyDataset(), batch_size=2,
        num_workers=num_workers, persistent_workers=num_workers > 0,
        sampler=dict(type='DefaultSampler', shuffle=False))
    val = dict(val_dataloader=loader, val_cfg=dict(),
               val_evaluator=[CountingMetric()]) if validate else {}
    by_epoch = 'max_epochs' in (train_cfg or {})
    return Runner(
        model=model or ToyModel(), work_dir=str(work_dir),
        experiment_name=str(work_dir).replace(os.sep, '_'),  # unique
        train_dataloader=loader, load_from=load_from, resume=resume,
        randomness=dict(seed=0), param_scheduler=param_scheduler,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=train_cfg or dict(by_epoch=False, max_iters=max_iters,
                                    val_interval=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='mmhvit.AtomicCheckpointHook', by_epoch=by_epoch,
            **checkpoint)),
        log_level='WARNING', **val)


class CountingMetric(BaseMetric):
    """The number of samples validated."""

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(samples=sum(results))


def test_nan_loss_stops_training_with_a_checkpoint(tmp_path):
    runner = toy_runner(tmp_path, 4, interval=2)
    runner.register_hook(NonFiniteLossHook(), 'VERY_HIGH')
    with pytest.raises(FloatingPointError, match=(
            r"Non-finite loss at iteration 3: \{'loss': \[inf\]\} \(this "
            r"process's images: \['img_4.png', 'img_5.png'\]\). The "
            r'parameters and optimizer state before this iteration are in '
            r'.*nonfinite_loss_iter_3.pth')):
        runner.train()
    saved = torch.load(tmp_path / 'nonfinite_loss_iter_3.pth',
                       weights_only=False)['state_dict']
    before = torch.load(tmp_path / 'iter_2.pth',
                        weights_only=False)['state_dict']
    for key, value in before.items():
        torch.testing.assert_close(saved[key], value)
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')


def test_old_checkpoint_is_deleted_only_after_the_new_one_is_saved(
        tmp_path, monkeypatch):
    on_disk_while_saving = []
    put = AtomicLocalBackend.put

    def recording_put(self, obj, filepath):
        on_disk_while_saving.append(sorted(os.listdir(tmp_path / 'keep')))
        put(self, obj, filepath)

    monkeypatch.setattr(AtomicLocalBackend, 'put', recording_put)
    toy_runner(tmp_path / 'keep', 2, interval=1, max_keep_ckpts=1).train()
    checkpoints = [[name for name in names if name.endswith('.pth')]
                   for names in on_disk_while_saving]
    assert checkpoints == [[], ['iter_1.pth']]  # iter_1 kept during iter_2
    assert sorted(name for name in os.listdir(tmp_path / 'keep')
                  if name.endswith('.pth')) == ['iter_2.pth']


@pytest.fixture
def disk(tmp_path, monkeypatch):
    """A function pretending the disk holds ``n`` toy checkpoints in all
    (the files in the work dir count as used)."""
    toy_runner(tmp_path / 'size', 1, interval=1).train()
    size = osp.getsize(tmp_path / 'size' / 'iter_1.pth')
    monkeypatch.setattr(checkpoint_hook, 'SPARE_BYTES', 0)
    logged = []
    monkeypatch.setattr(checkpoint_hook, 'print_log',
                        lambda message, **kwargs: logged.append(message))

    def holding(checkpoints: float):
        def disk_usage(path):
            used = sum(osp.getsize(osp.join(path, name))
                       for name in os.listdir(path) if name.endswith('.pth'))
            return shutil._ntuple_diskusage(0, 0,
                                            int(checkpoints * size) - used)
        monkeypatch.setattr(checkpoint_hook.shutil, 'disk_usage', disk_usage)
        return logged
    return holding


def files(directory):
    """The checkpoints (and partial files) of a toy run's work dir."""
    return sorted(name for name in os.listdir(directory)
                  if 'pth' in name or name == 'last_checkpoint')


def test_room_for_one_checkpoint_deletes_the_old_one_first(tmp_path, disk):
    logged = disk(1.5)
    toy_runner(tmp_path / 'run', 2, interval=1, max_keep_ckpts=1).train()
    assert files(tmp_path / 'run') == ['iter_2.pth', 'last_checkpoint']
    assert len(logged) == 1 and re.search(
        r'Saving iter_2.pth needs 0 MB, 0 MB are free: room for one '
        r'checkpoint only, so iter_1.pth is deleted before saving', logged[0])


def test_no_room_for_a_checkpoint_is_named(tmp_path, disk):
    disk(0.5)
    with pytest.raises(NoRoomError, match=(
            r'Saving iter_1.pth needs 0 MB but 0 MB are free under '
            r'.*run\. Free some space, save elsewhere \(default_hooks.'
            r'checkpoint.out_dir\) or keep fewer checkpoints')):
        toy_runner(tmp_path / 'run', 2, interval=1, max_keep_ckpts=1).train()
    assert files(tmp_path / 'run') == []  # no partial .tmp either


def test_nonfinite_input_is_named_before_the_model_runs(tmp_path):
    """A NaN in the batch (here a NaN pixel; a std of 0 in the data
    preprocessor gives the same) stops training before the model runs,
    pointing at the images and the normalisation, not the learning rate."""
    runner = toy_runner(tmp_path, 4, dataset=ToyDataset(bad=float('nan')),
                        interval=2)
    runner.register_hook(NonFiniteLossHook(), 'VERY_HIGH')
    with pytest.raises(FloatingPointError, match=re.escape(
            'Non-finite input at iteration 3, before the model ran: the '
            'batch holds NaN or Inf after the data preprocessor '
            "(BaseDataPreprocessor); this process's images: ['img_4.png', "
            "'img_5.png']. Check these images and data_preprocessor mean / "
            'std')):
        runner.train()


@pytest.fixture
def trained(tmp_path):
    """The work dir of a toy run of 4 iterations with a checkpoint every 2."""
    toy_runner(tmp_path / 'trained', 4, interval=2).train()
    return tmp_path / 'trained'


def resume(work_dir, checkpoint, **toy):
    """Resume a toy run from ``checkpoint`` into ``work_dir`` (6
    iterations) with the pre-flight checks."""
    compat.apply()  # mmengine's training state under weights_only=True
    runner = toy_runner(work_dir, 6, load_from=str(checkpoint), resume=True,
                        interval=2, **toy)
    runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')
    runner.train()
    return runner


def test_resume_from_a_checkpoint_of_another_model_is_refused(
        tmp_path, trained):
    with pytest.raises(ConfigError, match=re.escape(
            f'Cannot resume from {trained}/iter_4.pth: it was written by '
            "training another model, with keys like ['linear.weight', "
            "'linear.bias']: 2 tensors of other shapes "
            '(e.g. linear.weight: checkpoint (1, 2), model (3, 2), '
            'linear.bias: checkpoint (1,), model (3,)), 0 of the model '
            'absent')):
        resume(tmp_path / 'wider', trained / 'iter_4.pth',
               model=ToyModel(width=3))
    assert not (tmp_path / 'wider' / 'iter_6.pth').exists()


def test_resume_from_a_weights_only_checkpoint_is_refused(tmp_path):
    weights = tmp_path / 'weights.pth'
    torch.save({'state_dict': ToyModel().state_dict()}, weights)
    with pytest.raises(ConfigError, match=re.escape(
            f'Cannot resume from {weights}: it holds weights but no training '
            "state (meta, message_hub absent; it has ['state_dict']). To "
            'start a new run from its weights, set load_from')):
        resume(tmp_path / 'run', weights)


def test_resume_from_a_directory_takes_its_newest_checkpoint(
        tmp_path, trained):
    resume(tmp_path / 'resumed', trained)  # continues at iteration 4
    assert files(tmp_path / 'resumed') == ['iter_6.pth', 'last_checkpoint']
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(
            f'Cannot resume from {tmp_path}/empty: it is a directory without '
            'checkpoints')):
        resume(tmp_path / 'run', tmp_path / 'empty')


def test_load_from_a_directory_is_named(tmp_path, trained):
    runner = toy_runner(tmp_path / 'run', 2, load_from=str(trained))
    runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')
    with pytest.raises(IsADirectoryError, match=re.escape(
            f'load_from {trained} is a directory: name a checkpoint file (its '
            f'newest is {trained}/iter_4.pth).')):
        runner.train()


def _hold_lock(work_dir, locked):
    lock_work_dir(work_dir)
    locked.set()
    time.sleep(60)


def test_second_training_in_a_work_dir_is_refused(tmp_path, monkeypatch):
    """While a process holds the work dir, another training is refused at
    once, naming it (by the hook, and by tools/train.py before the runner
    writes anything there); once it is killed (SIGKILL), the lock is
    free."""
    fork = multiprocessing.get_context('fork')
    locked = fork.Event()
    holder = fork.Process(target=_hold_lock, args=(str(tmp_path), locked))
    holder.start()
    runner = mock.Mock(work_dir=str(tmp_path))
    try:
        assert locked.wait(30)
        with pytest.raises(WorkDirInUseError, match=(
                rf'The work dir {tmp_path} is in use: process {holder.pid} '
                rf'on \S+ \(`.*`, started [-\d: ]+\) trains there and holds '
                rf'{tmp_path}/.train.lock. Two runs in one work dir overwrite '
                r"each other's checkpoints")):
            WorkDirLockHook().before_train(runner)
        monkeypatch.setattr(sys, 'argv', [
            'train.py', osp.join(ROOT, 'configs/demo/fpn_hat-net-tiny_1xb8-'
                                 '400_synthetic-ade20k-96x96.py'),
            '--work-dir', str(tmp_path)])
        with pytest.raises(WorkDirInUseError):
            runpy.run_path(osp.join(ROOT, 'tools', 'train.py'),
                           run_name='__main__')
        assert os.listdir(tmp_path) == ['.train.lock']  # no config, no log
    finally:
        holder.kill()
        holder.join()
    WorkDirLockHook().before_train(runner)
    WorkDirLockHook().after_train(runner)


class ReadyHook(Hook):
    """Sets ``event`` at the start of iteration 3 (``during``) or at the
    end of iteration 2, after its checkpoint (between iterations)."""
    priority = 'LOWEST'

    def __init__(self, event, during):
        self.event, self.during = event, during

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.during and runner.iter + 1 == 3:
            self.event.set()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if not self.during and runner.iter + 1 == 2:
            self.event.set()


class SlowToyModel(ToyModel):
    """:class:`ToyModel` whose training forward pass takes ``seconds`` from
    iteration 3 on."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.passes = seconds, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.passes += mode == 'loss'
        time.sleep(self.seconds if self.passes >= 3 else 0)
        return super().forward(inputs, data_samples, mode)


class SlowToyDataset(ToyDataset):
    """:class:`ToyDataset` whose samples from the fifth (iteration 3) on
    take a second to load."""

    def __getitem__(self, index):
        time.sleep(1 if index >= 4 else 0)
        return super().__getitem__(index)


def _train_until_terminated(work_dir, seconds, during, ready):
    os.setpgrp()  # a job of its own: the test signals the process group
    runner = toy_runner(work_dir, 1000, model=SlowToyModel(seconds),
                        dataset=SlowToyDataset(), num_workers=1, interval=2)
    runner.register_hook(PreemptionHook(timeout=1))
    runner.register_hook(ReadyHook(ready, during))
    runner.train()


#: SIGTERM: (forward seconds from iteration 3, sent during iteration 3)
TERMINATED = dict(between=(0, False), during=(0.5, True), hangs=(60, True))


def test_sigterm_saves_a_checkpoint_and_stops(tmp_path):
    """SIGTERM to the job's process group (the training process and its
    data-loader worker, as Slurm sends it), exit status 143 and a checkpoint
    named in last_checkpoint: at once between iterations (here while
    waiting for a batch the dead worker held), at the end of the iteration
    in progress, or, for an iteration that does not end within the timeout,
    none, with the checkpoint to resume from logged."""
    fork = multiprocessing.get_context('fork')
    runs = {}
    for name, (seconds, during) in TERMINATED.items():
        ready = fork.Event()
        runs[name] = fork.Process(target=_train_until_terminated, args=(
            str(tmp_path / name), seconds, during, ready)), ready
        runs[name][0].start()
    for process, ready in runs.values():
        assert ready.wait(60)
        os.killpg(process.pid, signal.SIGTERM)
    for process, _ in runs.values():
        process.join(30)
        assert process.exitcode == 143
    for name, iteration in (('between', 2), ('during', 3)):
        saved = f'{tmp_path}/{name}/iter_{iteration}.pth'
        assert (tmp_path / name / 'last_checkpoint').read_text() == saved
        assert torch.load(saved, weights_only=False)['meta']['iter'] == \
            iteration
        assert (f'Stopped by SIGTERM after iteration {iteration}: saved '
                f'{saved} (named in last_checkpoint)') in read_log(
                    tmp_path / name)
    assert ('SIGTERM received during iteration 3: a checkpoint is saved when '
            'it ends (at most 1 s)') in read_log(tmp_path / 'during')
    assert ('SIGTERM: no iteration ended within 1 s, stopping without a new '
            f"checkpoint. `--resume` continues from {tmp_path}/hangs/"
            'iter_2.pth.') in read_log(tmp_path / 'hangs')


def read_log(work_dir):
    """The log file of the (only) run in ``work_dir``."""
    (path, ) = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    with open(path) as f:
        return f.read()


def read_logs(work_dir):
    """The log files of the runs in ``work_dir`` (the toy runs of a work
    dir share a logger, and so one file), one after the other."""
    return ''.join(open(path).read() for path in sorted(
        glob.glob(osp.join(str(work_dir), '*', '*.log'))))


def test_base_runtimes_list_the_safety_hooks():
    """Every entry point gets the hooks through the base runtimes."""
    for task in ('segmentation', 'detection', 'classification'):
        cfg = Config.fromfile(osp.join(
            ROOT, 'configs/_base_/runtimes', f'{task}.py'))
        assert [hook.type for hook in cfg.custom_hooks] == [
            f'mmhvit.{name}' for name in SAFETY_HOOKS]


@pytest.fixture
def fake_srun(tmp_path):
    """An ``srun`` first on PATH that records its arguments and the
    environment it was given."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$@" > {tmp_path}/args\n'
                    f'env > {tmp_path}/env\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='4',
               GPUS_PER_NODE='2', CPUS_PER_TASK='3', PORT='29777',
               SRUN_ARGS='--qos=high --time=1:00:00', PYTHON='python3')

    def run(script, *args):
        subprocess.run([osp.join(ROOT, 'tools', script), *args], env=env,
                       check=True, capture_output=True)
        environment = dict(
            line.split('=', 1)
            for line in (tmp_path / 'env').read_text().splitlines()
            if '=' in line)
        return (tmp_path / 'args').read_text().splitlines(), environment
    return run


SRUN_OPTIONS = ['-p', 'gpu', '--job-name=hat', '--gres=gpu:2', '--ntasks=4',
                '--ntasks-per-node=2', '--cpus-per-task=3',
                '--kill-on-bad-exit=1', '--qos=high', '--time=1:00:00',
                'python3', '-u']


@pytest.mark.parametrize('script,args,command', [
    ('slurm_train.sh', ['cfg.py', 'work', '--resume'],
     ['train.py', 'cfg.py', '--work-dir=work', '--launcher=slurm',
      '--resume']),
    ('slurm_test.sh', ['cfg.py', 'ckpt.pth', '--out', 'p.pkl'],
     ['test.py', 'cfg.py', 'ckpt.pth', '--launcher=slurm', '--out',
      'p.pkl']),
])
def test_slurm_scripts_launch_the_tool_with_its_environment(
        fake_srun, script, args, command):
    argv, env = fake_srun(script, 'gpu', 'hat', *args)
    assert argv[:len(SRUN_OPTIONS)] == SRUN_OPTIONS
    tool = argv[len(SRUN_OPTIONS)]
    assert osp.samefile(tool, osp.join(ROOT, 'tools', command[0]))
    assert argv[len(SRUN_OPTIONS) + 1:] == command[1:]
    assert osp.samefile(env['PYTHONPATH'].split(':')[0], ROOT)
    assert env['MASTER_PORT'] == '29777'


def test_deterministic_mode_warns_for_cuda_kernels_without_one(
        monkeypatch):
    """mmengine's strict mode would stop every mmseg run on CUDA at the
    first bilinear-upsampling backward; tools keep it and warn instead."""
    args = argparse.Namespace(
        config=osp.join(ROOT, 'configs/hat_net/'
                        'fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'),
        cfg_options={'randomness.deterministic': True}, launcher='none',
        work_dir=None, local_rank=0)
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    load_config(args)
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        torch.use_deterministic_algorithms(True)
        warn_only_determinism_on_cuda()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(previous[0],
                                           warn_only=previous[1])


def test_seeds_follow_the_iteration_and_a_resume_without_workers_warns(
        tmp_path, monkeypatch):
    """``IterationSeedHook`` seeds each iteration from (seed, iteration,
    rank): the numbers drawn in an iteration do not depend on what was
    drawn before. Resumed with ``num_workers=0``, whose pipeline shares
    those generators, it says the augmentations will differ."""
    draws = {}

    class Recorder(Hook):
        priority = 'LOW'  # after the seeding

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            draws.setdefault(runner.iter, []).append(torch.rand(3))

    hooks = [IterationSeedHook(), Recorder()]
    for run in ('a', 'b'):
        runner = toy_runner(tmp_path / run, 2, interval=1)
        for hook in hooks:
            runner.register_hook(hook)
        torch.rand(7)  # draws before training do not matter
        runner.train()
    for first, second in draws.values():
        torch.testing.assert_close(first, second)
    assert not torch.equal(draws[0][0], draws[1][0])
    logged = []
    monkeypatch.setattr(iteration_seed_hook, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    resumed = toy_runner(tmp_path / 'a', 3, interval=1, resume=True,
                         load_from=str(tmp_path / 'a' / 'iter_2.pth'))
    resumed.register_hook(IterationSeedHook())
    resumed.train()
    assert len(logged) == 1 and logged[0].startswith(
        'Resuming with train_dataloader.num_workers=0: the data pipeline '
        "draws from the main process's random generators")


@pytest.mark.parametrize('train_cfg,message', [
    (dict(by_epoch=False, max_iters=0, val_interval=1),
     'train_cfg.max_iters=0 trains nothing: it must be at least 1 (the '
     'iters to train, e.g. --cfg-options train_cfg.max_iters=40000).'),
    (dict(by_epoch=False, max_iters=-5, val_interval=1),
     'train_cfg.max_iters=-5 trains nothing'),
    (dict(type='mmhvit.EpochBasedTrainLoop', max_epochs=0),
     'train_cfg.max_epochs=0 trains nothing'),
    (dict(by_epoch=False, max_iters=4, val_interval=0),
     'train_cfg.val_interval=0: validation cannot run every 0 iters '
     '(mmengine divides by it: ZeroDivisionError after the first). Set it '
     'to at least 1, e.g. --cfg-options train_cfg.val_interval=4 to '
     'validate once, at the end.'),
])
def test_schedule_without_iterations_or_validation_interval_is_refused(
        tmp_path, train_cfg, message):
    """errors.md rows 96, 97: before, mmengine exited 0 having trained
    nothing, or died in a ZeroDivisionError after iteration 1."""
    runner = toy_runner(tmp_path, None, train_cfg=train_cfg, validate=True)
    runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')
    with pytest.raises(ConfigError, match=re.escape(message)):
        runner.train()
    assert not glob.glob(str(tmp_path / '*.pth'))


def test_schedule_decaying_to_zero_before_the_end_is_refused(tmp_path):
    """errors.md row 115: max_iters raised alone trained the rest at lr 0,
    rc 0; so did a run resumed with a longer schedule, whose schedulers
    mmengine restores from the checkpoint (end included) over the config,
    even with the scheduler's end raised as row 98 advised."""
    compat.apply()  # mmengine's training state under weights_only=True
    poly = [dict(type='PolyLR', eta_min=0.0, begin=0, end=2, by_epoch=False)]
    runner = toy_runner(tmp_path, 4, param_scheduler=poly)
    runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')
    with pytest.raises(ConfigError, match=re.escape(
            'PolyLR ends after 2 iters, at a learning rate of 0, but '
            'train_cfg.max_iters=4: iters 3..4 would train at a learning '
            'rate of 0. Set the end of the scheduler to the end of training '
            '(--cfg-options param_scheduler.0.end=4), or '
            'train_cfg.max_iters=2.')):
        runner.train()
    assert runner.iter == 0
    toy_runner(tmp_path, 2, param_scheduler=poly, interval=2).train()
    longer = [dict(poly[0], end=4)]
    runner = toy_runner(tmp_path, 4, param_scheduler=longer, resume=True,
                        load_from=str(tmp_path / 'iter_2.pth'))
    runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')
    with pytest.raises(ConfigError, match=re.escape(
            'PolyLR ends after 2 iters, at a learning rate of 0, but '
            'train_cfg.max_iters=4: iters 3..4 would train at a learning '
            'rate of 0. The schedulers of a resumed run, their end included, '
            f'come from its checkpoint {tmp_path}/iter_2.pth (mmengine '
            'restores them over the config)')):
        runner.train()
    assert runner.iter == 2
    # a schedule that ends above 0 (eta_min) may stop before training does
    toy_runner(tmp_path / 'min', 4, param_scheduler=[
        dict(poly[0], eta_min=1e-4)]).train()


class Terminate(Hook):
    """Sends SIGTERM to this process at the start of iteration
    ``iteration`` (counted from 1), or of the validation's first batch."""
    priority = 'LOWEST'

    def __init__(self, iteration=None):
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGTERM)

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        if self.iteration is None:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_during_final_validation_validates_on_resume(tmp_path):
    """SIGTERM while the validation after the last iteration runs: the
    checkpoint is marked, and --resume runs that validation (before: it
    exited 0 without any metric). A resume from the end of the schedule
    without one pending is refused, with how to extend it (row 98)."""
    runner = toy_runner(tmp_path, 4, interval=2, validate=True)
    runner.register_hook(PreemptionHook())
    runner.register_hook(Terminate())
    with pytest.raises(SystemExit, match='143'):
        runner.train()
    saved = tmp_path / 'iter_4.pth'
    assert torch.load(saved, weights_only=False)['meta'][
        'validation_pending']
    assert ('Stopped by SIGTERM after iteration 4 while validating: saved '
            f'{saved} (named in last_checkpoint). Continue with '
            '`tools/train.py CONFIG --resume` (it validates first).'
            ) in read_logs(tmp_path)

    compat.apply()  # mmengine's training state under weights_only=True

    def resumed():
        runner = toy_runner(tmp_path, 4, interval=2, validate=True,
                            resume=True, load_from=str(saved))
        runner.register_hook(PreflightCheckHook(), 'VERY_HIGH')
        runner.register_hook(PreemptionHook())
        return runner

    runner = resumed()
    runner.train()
    assert runner.message_hub.get_scalar('val/samples').current() == 8
    assert not torch.load(saved, weights_only=False)['meta'][
        'validation_pending']  # saved again once validated
    with pytest.raises(ConfigError, match=re.escape(
            f'Cannot resume from {saved}: it was saved after 4 iters '
            '(iteration 4), at or past the end of the schedule '
            '(train_cfg.max_iters=4), so there is nothing left to train or '
            'validate. To train further, raise the end, e.g. --cfg-options '
            'train_cfg.max_iters=8')):
        resumed().train()


class LearningRates(Hook):
    """The iterations trained and their learning rates."""

    def __init__(self):
        self.trained = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.trained.append((runner.iter + 1, runner.optim_wrapper.get_lr()[
            'lr'][0]))


def epoch_runner(work_dir, loop='mmhvit.EpochBasedTrainLoop', **toy):
    """2 epochs of 4 iterations from the same initial weights, the learning
    rate rising every iteration; with :class:`LearningRates` as
    ``runner.rates``."""
    torch.manual_seed(0)
    runner = toy_runner(work_dir, None, model=ToyModel(),
                        dataset=ToyDataset(bad=5.),
                        train_cfg=dict(type=loop, max_epochs=2), interval=1,
                        **toy)
    runner.param_schedulers = [dict(type='LinearLR', start_factor=0.1,
                                    by_epoch=False, begin=0, end=8)]
    runner.rates = LearningRates()
    runner.register_hook(runner.rates)
    return runner


def test_sigterm_mid_epoch_resumes_at_the_iteration_it_stopped(tmp_path):
    """SIGTERM during iteration 6 (epoch 2, batch 2 of 4): the resumed run
    trains iterations 7 and 8 only, on the learning rates and to the
    weights of the uninterrupted run, and says it skipped the epoch's
    first 2 batches. mmengine's loop trains 4 more, ending at iteration 10,
    and says which it repeats."""
    straight = epoch_runner(tmp_path / 'straight')
    straight.train()
    runner = epoch_runner(tmp_path / 'stopped')
    runner.register_hook(PreemptionHook())
    runner.register_hook(Terminate(6))
    with pytest.raises(SystemExit, match='143'):
        runner.train()
    assert (tmp_path / 'stopped' / 'last_checkpoint').read_text().endswith(
        'iter_6.pth')
    shutil.copytree(tmp_path / 'stopped', tmp_path / 'mmengine')
    compat.apply()
    resumed = epoch_runner(tmp_path / 'stopped', resume=True)
    resumed.train()
    assert resumed.rates.trained == straight.rates.trained[6:]
    assert runner.rates.trained == straight.rates.trained[:6]
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value,
                                   rtol=0, atol=0)
    assert ('Resumed after iteration 6, in the middle of epoch 2: its first '
            '2 of 4 batches were trained before the run stopped') in \
        read_logs(tmp_path / 'stopped')
    repeating = epoch_runner(tmp_path / 'mmengine', 'EpochBasedTrainLoop',
                             load_from=str(tmp_path / 'mmengine' /
                                           'iter_6.pth'), resume=True)
    repeating.register_hook(PreemptionHook())
    repeating.train()
    assert [i for i, _ in repeating.rates.trained] == [7, 8, 9, 10]
    assert ("Resumed after iteration 6, in the middle of epoch 2: mmengine's "
            'EpochBasedTrainLoop restarts the epoch, so its first 2 batches '
            'are trained again') in read_logs(tmp_path / 'mmengine')
