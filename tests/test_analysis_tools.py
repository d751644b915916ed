"""The tools mmseg and mmdet users reach for, on our configs and the
checkpoints our runner writes: a dataset browser, a confusion matrix, config
printing, ``publish_model``, ``analyze_logs`` over a resumed run, result
analysis and the scheduler plot; the terminal (progress, warnings). One
tiny segmentor (trained 2 iterations, resumed to 4) and one tiny detector
(1 epoch) per module."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from mmhvit.analysis.model_zoo import metafile_models
from mmhvit.datasets import make_ade20k, make_coco
from mmhvit.engine.hooks import ProgressHook
from helpers import (ROOT, assert_same_weights, det_config, run_tool,
                     run_tool_in_process, seg_config, write)


@pytest.fixture(scope='module')
def seg(tmp_path_factory):
    """The config and work dir of a segmentor whose 4-iteration schedule
    was stopped after 2 iterations, then resumed to 4 (two log segments),
    at log level INFO; the screen output of both runs (the first with the
    configs' logger interval of 50, the second ``--verbose``). (The
    schedule is 4 iterations from the start: a resumed run keeps the
    scheduler's end it saved, and a PolyLR ending at 2 would train 3..4 at
    a learning rate of 0, errors.md row 115.)"""
    root = tmp_path_factory.mktemp('seg')
    data = make_ade20k(str(root / 'ade'), num_train=4, num_val=2,
                       size=(64, 64))
    config = seg_config(root, dict(ade20k=data), 2, 2)
    work = root / 'work'
    schedule = 'param_scheduler.0.end=4'
    screens = [run_tool('train.py', config, '--work-dir', work,
                        '--cfg-options', 'log_level=INFO', schedule,
                        'default_hooks.logger.interval=50').stdout,
               run_tool('train.py', config, '--work-dir', work, '--resume',
                        '--verbose', '--cfg-options', 'log_level=INFO',
                        schedule, 'train_cfg.max_iters=4').stdout]
    return config, work, screens


@pytest.mark.slow
def test_environment_and_config_go_to_the_log_file(seg):
    """Before: 592 lines on the screen before the first iteration of this
    config, now 19."""
    _, work, (quiet, verbose) = seg
    first = sorted(work.glob('*/*.log'))[0]
    start = quiet[:quiet.index('Iter(train)')]
    assert f'Environment, full config and hook order: {first} ' in start
    for shown in ('System environment:', 'Config:', 'Hooks will be '):
        assert shown not in start and shown in verbose
        assert shown in first.read_text()
    assert len(start.splitlines()) < 40


@pytest.fixture(scope='module')
def det(tmp_path_factory):
    """The config and the ``tools/test.py --out`` results of a RetinaNet
    trained 1 epoch."""
    root = tmp_path_factory.mktemp('det')
    data = make_coco(str(root / 'coco'), num_train=4, num_val=2,
                     size=(96, 96))
    config = det_config(root, data)
    run_tool('train.py', config, '--work-dir', root / 'work')
    results = root / 'results.pkl'
    run_tool('test.py', config, root / 'work' / 'epoch_1.pth', '--out',
             results, '--work-dir', root / 'test')
    return config, results


@pytest.mark.slow
def test_progress_lines_from_the_first_iteration_on(seg):
    """mmengine's LoggerHook prints every 50 iterations in the configs;
    ProgressHook says that training starts and how far it is after the
    first iterations, from where a resumed run starts."""
    _, _, (first, resumed) = seg
    assert 'Training iterations 1..2; the first may take a while' in first
    assert re.search(r'Progress: iter 2/2 \(100\.0%\), [\d.]+ s/iter, eta '
                     r'0:00:00', first)
    assert 'Training iterations 3..4' in resumed


class SlowModel(BaseModel):
    """A linear model whose training step takes ``delay`` seconds."""

    def __init__(self, delay):
        super().__init__()
        self.delay = delay
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        time.sleep(self.delay)
        return dict(loss=self.linear(torch.stack(inputs)).pow(2).mean())


@pytest.mark.parametrize('delay, said', [(1.0, True), (0.0, False)])
def test_a_slow_iteration_is_said_to_run(delay, said, tmp_path):
    """ProgressHook prints between iterations; a watcher thread says when
    one runs longer than ``slow_s`` (30 s in train.py, 0.2 s here), is
    silent for fast ones and is gone when training ends."""
    runner = Runner(
        model=SlowModel(delay), work_dir=str(tmp_path),
        experiment_name=str(tmp_path).replace(os.sep, '_'),
        train_dataloader=dict(dataset=[dict(inputs=torch.ones(2))] * 2,
                              batch_size=1, sampler=dict(
                                  type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=2),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[ProgressHook(slow_s=0.2, every_s=10)],
        log_level='INFO')
    runner.train()
    log = next(tmp_path.glob('*/*.log')).read_text()
    slow = re.findall(r'Iteration (\d)/2 still running after \d+ s( \(the '
                      r'first iterations start the data workers)?', log)
    assert slow == ([('1', ' (the first iterations start the data workers'),
                     ('2', ' (the first iterations start the data workers')]
                    if said else [])
    assert not [thread for thread in threading.enumerate()
                if thread.name == 'ProgressHook']


@pytest.mark.slow
def test_analyze_logs_joins_the_segments_of_a_resumed_run(seg, tmp_path):
    """Before: only the newest segment (iterations 3 and 4) was drawn.
    (The first segment logs fewer iterations: logger interval 50.)"""
    _, work, _ = seg
    out = tmp_path / 'curves.png'
    lines = run_tool('analysis_tools/analyze_logs.py', 'plot_curve', work,
                     '--keys', 'loss', 'mIoU', '--out', out,
                     '--legend', 'run').stdout.splitlines()
    assert lines[0] == 'run: 2 segments (resumed runs) joined'
    assert re.match(r'run loss: \d points, iter 1\.\.4, ', lines[1])
    assert lines[2].startswith('run mIoU: 2 points, iter 2..4, ')
    assert cv2.imread(str(out)) is not None
    timing = run_tool('analysis_tools/analyze_logs.py', 'cal_train_time',
                      work).stdout
    assert '4 iters take about' in timing


@pytest.mark.slow
@pytest.mark.parametrize('task', ['seg', 'det'])
def test_browse_dataset_draws_the_training_set(task, request, tmp_path):
    """mmseg's tool died in ``cv2.rectangle`` under OpenCV 5."""
    config = request.getfixturevalue(task)[0]
    run_tool('analysis_tools/browse_dataset.py', config, '--output-dir',
             tmp_path, '--not-show')
    drawn = sorted(tmp_path.iterdir())
    assert len(drawn) == 4  # the training images
    assert all(cv2.imread(str(path)) is not None for path in drawn)


@pytest.mark.slow
def test_segmentation_confusion_matrix_from_a_checkpoint(seg, tmp_path):
    config, work, _ = seg
    out = run_tool('analysis_tools/confusion_matrix.py', config,
                   work / 'iter_4.pth', tmp_path).stdout
    matrix = np.load(tmp_path / 'confusion_matrix.npy')
    assert matrix.shape == (150, 150)
    labelled = np.count_nonzero(matrix.sum(1))
    drawn = np.count_nonzero(matrix.sum(0) + matrix.sum(1))
    assert (f'{int(matrix.sum())} pixels; {labelled} of 150 classes '
            f'labelled, {drawn} labelled or predicted' in out)
    assert cv2.imread(str(tmp_path / 'confusion_matrix.png')) is not None


@pytest.mark.slow
def test_detection_confusion_matrix_from_test_results(det, tmp_path):
    config, results = det
    run_tool('analysis_tools/confusion_matrix.py', config, results, tmp_path)
    assert cv2.imread(str(tmp_path / 'confusion_matrix.png')) is not None


@pytest.mark.slow
def test_analyze_results_draws_the_best_and_worst_images(det, tmp_path):
    """mmdet's tool failed on the configs' checked image loader."""
    config, results = det
    run_tool('analysis_tools/analyze_results.py', config, results, tmp_path,
             '--topk', '1')
    for kind in ('good', 'bad'):
        drawn, = (tmp_path / kind).iterdir()
        assert re.fullmatch(r'\d{12}_[\d.]+\.jpg', drawn.name)
        assert cv2.imread(str(drawn)).shape == (96, 96, 3)


@pytest.mark.slow
@pytest.mark.parametrize('task, size', [('seg', 8), ('det', 4)])
def test_scheduler_plot(task, size, request, tmp_path):
    """mmpretrain's ``vis_scheduler`` on our configs: the iteration-based
    one steps through ``max_iters`` (2) batches (of 4) without restarting
    its loader (a 2 s pause each time), the epoch-based one through its
    training set (4 images)."""
    config = request.getfixturevalue(task)[0]
    out = tmp_path / 'lr.png'
    printed = run_tool('analysis_tools/vis_scheduler.py', config,
                       '--save-path', out, '--not-show').stdout
    assert f' - Dataset size: {size}' in printed
    assert 'Reach the end of the dataloader' not in printed
    assert cv2.imread(str(out)) is not None


@pytest.mark.slow
def test_print_config_prints_the_merged_config(seg, tmp_path):
    config, _, _ = seg
    saved = tmp_path / 'full.py'
    out = run_tool('analysis_tools/print_config.py', config, '--save-path',
                   saved, '--cfg-options', 'train_cfg.max_iters=7').stdout
    assert 'max_iters=7' in out and "type='mmhvit.HATNet'" in out
    assert 'max_iters=7' in saved.read_text()


@pytest.mark.slow
def test_publish_model_keeps_weights_and_meta(seg, tmp_path):
    _, work, _ = seg
    out = run_tool('analysis_tools/publish_model.py', work / 'iter_4.pth',
                   tmp_path / 'tiny.pth').stdout
    published, = tmp_path.glob('tiny-*.pth')
    assert f'wrote {published} ' in out
    assert 'dropped message_hub, optimizer, param_schedulers' in out
    checkpoint = torch.load(published, weights_only=True)
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert_same_weights(work / 'iter_4.pth', published)
    assert json.dumps(checkpoint['meta']['iter']) == '4'


def test_model_zoo_table_links_resolve_where_it_is_written(
        tmp_path, monkeypatch):
    """``model_zoo.py --out FILE``: every config link resolves from FILE's
    directory (before: ``../configs/...``, right only inside docs/). The
    rows come from ``--json`` (what an earlier run measured), so nothing is
    built."""
    rows = [dict(name=e['Name'], collection=e['In Collection'],
                 config=osp.relpath(e['Config'], ROOT), paper_params=None,
                 paper_flops=None, params=1e6, shape=[224, 224])
            for e in metafile_models(ROOT) if e['In Collection'] == 'ClusTR']
    measured = write(tmp_path / 'measured.json', json.dumps(rows))
    out = tmp_path / 'tables' / 'zoo.md'
    run_tool_in_process(monkeypatch, 'analysis_tools/model_zoo.py',
                        '--collections', 'ClusTR', '--no-macs', '--json',
                        measured, '--out', out)
    links = re.findall(r'\]\(([^)]+\.py)\)', out.read_text())
    assert len(links) == len(rows)
    for link in links:
        assert osp.isfile(osp.join(out.parent, link)), link


# The models of configs built one after another in one process, as
# model_zoo.py does; "built" after each
BUILD_ONE_AFTER_ANOTHER = """
import sys
from mmhvit.analysis.model_zoo import build_from_config
for config in sys.argv[1:]:
    build_from_config(config)
    print('built', file=sys.stderr, flush=True)
"""


@pytest.mark.slow
def test_each_upstream_warning_once_per_process(tmp_path):
    """Python forgets which warnings it showed whenever the warning
    filters change, which building models does (a ``catch_warnings``, an
    import that adds a filter): mmseg's warnings came again with a later
    model ([1, 1, 0] here without the fix; [1, 1, 1] before compat fix 6,
    which stopped mmengine's reloads of ``pkg_resources``).
    ``compat.apply()``, which the configs' ``custom_imports`` and the tools
    run, shows each once."""
    script = write(tmp_path / 'build.py', BUILD_ONE_AFTER_ANOTHER)
    hat_net, clustr = (
        osp.join(ROOT, 'configs', name) for name in (
            'hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py',
            'clustr/fpn_clustr-tiny_8xb2-80k_ade20k-512x512.py'))
    run = subprocess.run([sys.executable, script, hat_net, clustr, hat_net],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    builds = run.stderr.split('built\n')[:-1]
    for warning in ('UserWarning: ``build_loss`` would be deprecated',
                    'UserWarning: Default ``avg_non_ignore`` is False'):
        assert [build.count(warning) for build in builds] == [1, 0, 0]
