"""Crashes while saving, checkpoint rotation, NaN losses, the checkpoint
``--resume`` picks, the commands the slurm scripts launch and deterministic
mode on CUDA."""
import argparse
import os
import os.path as osp
import re
import shutil
import stat
import subprocess

import pytest
import torch
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.structures import BaseDataElement
from torch import nn

from mmhvit import compat
from mmhvit.engine import NonFiniteLossHook, latest_checkpoint, load_config
from mmhvit.engine.hooks import (ATOMIC_BACKEND_ARGS, AtomicLocalBackend,
                                 NoRoomError, checkpoint_hook)
from mmhvit.engine.runner import warn_only_determinism_on_cuda

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


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


def test_resume_falls_back_to_the_newest_checkpoint(tmp_path):
    assert latest_checkpoint(str(tmp_path)) is None
    for i in (2, 4):
        torch.save({}, tmp_path / f'iter_{i}.pth')
        os.utime(tmp_path / f'iter_{i}.pth', (i, i))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')


class ToyModel(BaseModel):
    """``loss = mean(linear(x))``: NaN as soon as an input is."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        return dict(loss=out.mean()) if mode == 'loss' else out


class ToyDataset(torch.utils.data.Dataset):
    """Eight samples; the sixth holds a NaN."""
    metainfo = {}

    def __len__(self):
        return 8

    def __getitem__(self, index):
        value = float('nan') if index == 5 else float(index)
        return dict(inputs=torch.tensor([value, 1.]),
                    data_samples=BaseDataElement(
                        metainfo=dict(img_path=f'img_{index}.png')))


def toy_runner(work_dir, max_iters, **checkpoint):
    """A runner training :class:`ToyModel` on :class:`ToyDataset` (batch 2,
    in order) for ``max_iters``, with ``CheckpointHook(**checkpoint)``."""
    return Runner(
        model=ToyModel(), work_dir=str(work_dir),
        experiment_name=str(work_dir).replace(os.sep, '_'),  # unique
        train_dataloader=dict(
            dataset=ToyDataset(), batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='mmhvit.AtomicCheckpointHook', by_epoch=False,
            **checkpoint)),
        log_level='WARNING')


def test_nan_loss_stops_training_with_a_checkpoint(tmp_path):
    runner = toy_runner(tmp_path, 4, interval=2)
    runner.register_hook(NonFiniteLossHook(), 'VERY_HIGH')
    with pytest.raises(FloatingPointError, match=(
            r"Non-finite loss at iteration 3: \{'loss': \[nan\]\} \(this "
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
