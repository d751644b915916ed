"""Entry points other than mmhvit's tools: ``mim train/test/search mmhvit``
from the install ``make install`` makes and from a built wheel, and a plain
``Runner.from_cfg`` of one of our configs, which must get the same
pre-flight checks and atomic checkpoints as ``tools/train.py``, and mmseg's
own tools and inferencer on the checkpoints its runner wrote."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS

from mmhvit.datasets import make_ade20k
from mmhvit.engine.runner import (ResumableRunner, add_safety_hooks,
                                  build_runner)
from helpers import ROOT, det_config, infer_upstream, seg_config, write

MIM = osp.join(osp.dirname(sys.executable), 'mim')


def mim(*args, env=None):
    """``mim ARGS`` in a fresh process, from a directory outside the
    checkout (so that only the installed package can be found)."""
    result = subprocess.run([MIM, *map(str, args)], capture_output=True,
                            text=True, cwd='/', env=env)
    assert result.returncode == 0, (result.stdout[-2000:] +
                                    result.stderr[-3000:])
    return result.stdout


@pytest.fixture(scope='module')
def tiny_seg(tmp_path_factory):
    """A tiny Semantic FPN config (2 iterations) on a small ADE20K set."""
    root = tmp_path_factory.mktemp('mim')
    data = make_ade20k(str(root / 'ade'), num_train=4, num_val=2,
                       size=(64, 64))
    return seg_config(root, dict(ade20k=data), 2, 2)


@pytest.mark.slow
def test_mim_trains_tests_and_searches_mmhvit(tmp_path, tiny_seg):
    mim('train', 'mmhvit', tiny_seg, '--work-dir', tmp_path / 'work')
    checkpoint = tmp_path / 'work' / 'iter_2.pth'
    assert checkpoint.is_file()
    mim('test', 'mmhvit', tiny_seg, '--checkpoint', checkpoint,
        '--work-dir', tmp_path / 'test')
    found = mim('search', 'mmhvit', '--valid-config')
    assert "'fpn_hat-net-tiny_8xb2-40k_ade20k-512x512'" in found


@pytest.mark.slow
def test_wheel_ships_configs_tools_and_the_model_index(tmp_path):
    """``pip wheel`` packages configs/, tools/ and model-index.yml under
    ``mmhvit/.mim`` as OpenMMLab packages do; ``mim search`` reads them from
    an installed wheel."""
    source = tmp_path / 'source'
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        '.venv', '.git', 'work_dirs', 'data', '*.egg-info', '.mim',
        '__pycache__', 'build'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', str(source), '-w',
                    str(tmp_path / 'dist')], check=True, capture_output=True)
    wheel, = (tmp_path / 'dist').glob('mmhvit-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    for path in ('mmhvit/.mim/model-index.yml', 'mmhvit/.mim/tools/train.py',
                 'mmhvit/.mim/configs/hat_net/metafile.yml',
                 'mmhvit/.mim/configs/_base_/runtimes/segmentation.py'):
        assert path in names
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
                    '--target', str(target), str(wheel)], check=True,
                   capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    found = mim('search', 'mmhvit', '--valid-config', env=env)
    assert "'clustr-tiny_8xb128_in1k'" in found


PLAIN_RUN = """
import sys
from mmengine.config import Config
from mmengine.runner import Runner
cfg = Config.fromfile(sys.argv[1])
cfg.work_dir = sys.argv[2]
runner = Runner.from_cfg(cfg)
print('HOOKS', sorted(type(hook).__name__ for hook in runner.hooks))
runner.train()
"""


@pytest.mark.slow
def test_plain_runner_gets_the_checks_and_atomic_checkpoints(
        tmp_path, tiny_seg):
    """No mmhvit tool: the base runtimes give
    ``Runner.from_cfg`` the pre-flight checks (here: heads with 4 classes
    for a 150-class dataset stop before the first iteration) and the
    atomic checkpoint hook."""
    script = write(tmp_path / 'plain.py', PLAIN_RUN)
    run = subprocess.run([sys.executable, script, tiny_seg,
                          str(tmp_path / 'ok')], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    hooks = next(line for line in run.stdout.splitlines()
                 if line.startswith('HOOKS'))
    for hook in ('AtomicCheckpointHook', 'IterationSeedHook',
                 'NonFiniteLossHook', 'PreflightCheckHook'):
        assert hook in hooks
    assert 'CheckpointHook' not in hooks.replace('AtomicCheckpointHook', '')
    assert (tmp_path / 'ok' / 'iter_2.pth').is_file()
    bad = write(tmp_path / 'bad.py', f"_base_ = '{tiny_seg}'\n"
                'model = dict(decode_head=dict(num_classes=4))\n')
    run = subprocess.run([sys.executable, script, bad, str(tmp_path / 'bad')],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0
    assert ('ConfigError: num_classes disagree: decode_head=4; the train '
            'dataset ADE20KDataset has 150 classes') in run.stderr
    assert not list((tmp_path / 'bad').glob('iter_*.pth'))


@pytest.mark.slow
def test_upstream_tools_read_the_checkpoints_the_runner_wrote(
        tmp_path, tiny_seg):
    """Checkpoints that mmseg's own ``tools/train.py`` (through ``mim``)
    writes hold the runner's state (``HistoryBuffer``, numpy scalars), which
    torch >= 2.6 refuses to unpickle by default: mmseg's ``tools/test.py``,
    its ``--resume`` and ``MMSegInferencer``, each in a fresh process that
    only reads our config, load them (``custom_imports`` installs
    ``mmhvit.compat``'s loader)."""
    work = tmp_path / 'work'
    # a 3-iteration schedule, stopped after 2 (a resumed run keeps the end
    # its scheduler saved: one of 2 would train iteration 3 at lr 0)
    mim('train', 'mmseg', tiny_seg, '--work-dir', work, '--cfg-options',
        'param_scheduler.0.end=3')
    checkpoint = work / 'iter_2.pth'
    assert 'message_hub' in torch.load(checkpoint, weights_only=False)
    mim('test', 'mmseg', tiny_seg, '--checkpoint', checkpoint,
        '--work-dir', tmp_path / 'test')
    resumed = mim('train', 'mmseg', tiny_seg, '--work-dir', work, '--resume',
                  '--cfg-options', 'train_cfg.max_iters=3',
                  'randomness.seed=None')
    assert (work / 'iter_3.pth').is_file()
    # mmseg's tools/train.py builds the config's runner_type,
    # mmhvit.ResumableRunner: resumed without a seed in the config (as the
    # paper configs set none), the run takes the one it recorded before its
    # sampler and workers are built
    seed = torch.load(checkpoint, weights_only=False)['meta']['seed']
    assert f'using the seed {seed} that the run drew' in resumed
    data_root = Config.fromfile(tiny_seg).test_dataloader.dataset.data_root
    image = sorted(glob.glob(osp.join(data_root, 'images', 'validation',
                                      '*.jpg')))[0]
    assert infer_upstream('seg', tiny_seg, work / 'iter_3.pth', image,
                          tmp_path) == 'PREDICTION (64, 64)'


@pytest.mark.parametrize('family', ['hat_net', 'clustr'])
def test_upstream_runner_builds_train_epochs_with_the_resumable_loop(
        tmp_path, family):
    """What mmdet's and mmpretrain's ``tools/train.py`` build,
    ``RUNNERS.build(cfg)``, is the base runtimes' ``mmhvit.ResumableRunner``;
    it trains the COCO configs' epochs with ``mmhvit.EpochBasedTrainLoop``
    (resumes mid-epoch at the iteration it stopped) and leaves the config
    it was given unchanged."""
    cfg = Config.fromfile(det_config(tmp_path, tmp_path / 'coco', family))
    cfg.work_dir = str(tmp_path / 'work')
    assert cfg.runner_type == 'mmhvit.ResumableRunner'
    runner = RUNNERS.build(cfg)
    assert isinstance(runner, ResumableRunner)
    assert runner._train_loop['type'] == 'mmhvit.EpochBasedTrainLoop'
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'


def test_tools_build_the_resumable_runner_for_configs_without_one(tmp_path):
    """``tools/train.py`` (``build_runner``) builds ``mmhvit.ResumableRunner``
    for a config that names no ``runner_type`` (one that does not inherit
    mmhvit's base runtimes), so its resume takes the recorded seed and its
    epochs the resumable loop; the config's own ``runner_type`` wins."""
    cfg = Config.fromfile(det_config(tmp_path, tmp_path / 'coco'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.pop('runner_type')
    runner = build_runner(cfg, verbose=False)
    assert isinstance(runner, ResumableRunner)
    assert runner._train_loop['type'] == 'mmhvit.EpochBasedTrainLoop'


def test_tools_add_the_safety_hooks_to_configs_without_them(tiny_seg):
    """A config that replaces ``custom_hooks`` still gets mmhvit's safety
    hooks through ``tools/`` (``build_runner``), after its own."""
    cfg = Config.fromfile(tiny_seg)
    cfg.custom_hooks = [dict(type='EMAHook')]
    add_safety_hooks(cfg)
    assert [hook['type'] for hook in cfg.custom_hooks] == [
        'EMAHook', 'mmhvit.WorkDirLockHook', 'mmhvit.PreflightCheckHook',
        'mmhvit.NonFiniteLossHook', 'mmhvit.IterationSeedHook',
        'mmhvit.PreemptionHook']
