"""End to end through the real runners and tools on generated data: a few
iterations of training, then testing, for Semantic FPN, RetinaNet, Mask R-CNN
and ImageNet classification; an exact resume after SIGKILL; and 2 processes
against 1 for training and testing.

Each test writes a small config that inherits the real one in configs/ (so
the upstream ``mmseg::``/``mmdet::``/``mmpretrain::`` bases are exercised)
and shrinks the data, the images and the backbone.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import cv2
import mmengine
import pytest
import torch

from mmhvit.datasets import (SHAPE_CLASSES, make_ade20k, make_cityscapes,
                             make_coco, make_imagenet)
from helpers import (BACKBONE, COMMON, FAMILIES, FPN_HEADS, ROOT,
                     assert_same_weights, det_config, infer_upstream,
                     logged_metrics, run_tool, seg_config,
                     train_one_and_two_processes, train_scalars, write)
from tiny_archs import TINY_HAT_NET

# every test trains in a fresh process (importing tools/train.py alone takes
# 7 s of CPU)
pytestmark = pytest.mark.slow

# The tiny children of the shipped configs are in helpers.py
CLS_CONFIG = """
_base_ = '{root}/configs/hat_net/hat-net-tiny_8xb128_in1k.py'
model = dict(
    backbone=dict(arch=dict(_delete_=True, **{arch!r}), drop_path_rate=0.0),
    head=dict(in_channels=64, num_classes={num_classes}))
data_preprocessor = dict(num_classes={num_classes})
train_pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=72, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=64),
    dict(type='PackInputs')]
# ImageNet's metainfo lists 1000 classes; the generated set has num_classes
metainfo = dict(classes={classes!r})
train_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                        dataset=dict(data_root='{data}', metainfo=metainfo,
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                      dataset=dict(data_root='{data}', metainfo=metainfo,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, ))
test_evaluator = val_evaluator
param_scheduler = []
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1))
{common}
"""


@pytest.fixture(scope='session')
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    return dict(
        ade20k=make_ade20k(str(root / 'ade'), num_train=16, num_val=4,
                           size=(64, 64)),
        cityscapes=make_cityscapes(str(root / 'cityscapes'), num_train=16,
                                   num_val=4, size=(64, 128)),
        coco=make_coco(str(root / 'coco'), num_train=4, num_val=2,
                       size=(96, 96)),
        imagenet=make_imagenet(str(root / 'imagenet'), num_train=16,
                               num_val=8, size=(64, 64)))


@pytest.mark.parametrize('family', FAMILIES)
def test_segmentor_trains_loss_falls_and_tests(tmp_path, datasets, family):
    config = seg_config(tmp_path, datasets, 30, 30, family)
    work_dir = tmp_path / 'work'
    run_tool('train.py', config, '--work-dir', work_dir)
    losses = [r['loss'] for r in train_scalars(work_dir) if 'loss' in r]
    assert len(losses) == 30
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5]), losses
    run_tool('test.py', config, work_dir / 'iter_30.pth', '--work-dir',
             tmp_path / 'test', '--show-dir', tmp_path / 'vis')
    assert 0 <= logged_metrics(tmp_path / 'test')['mIoU'] <= 100
    assert list((tmp_path / 'vis').rglob('*.png'))
    if family == 'hat_net':  # multi-scale + flip with the shipped pipeline
        run_tool('test.py', config, work_dir / 'iter_30.pth', '--work-dir',
                 tmp_path / 'tta', '--tta')
        assert 0 <= logged_metrics(tmp_path / 'tta')['mIoU'] <= 100


DEMO = 'configs/demo/fpn_hat-net-tiny_1xb8-400_synthetic-ade20k-96x96.py'
# The demo with the tiny backbone and heads (the demo, too, trains from scratch
# without drop path), nothing else changed
TINY_DEMO = """
_base_ = '{root}/{demo}'
model = dict(
{backbone}{heads})
"""


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    """The demo config as shipped (dropout in the decode head, its data
    worker, random resize / crop / flip / photometric augmentation, batch
    8) with the tiny backbone on a small set, shrunk to 8 iterations with a
    checkpoint every 2: SIGKILL once the checkpoint of iteration 2 (then, in
    a second run, of iteration 6) is written, resume with ``--resume`` (the
    latest complete checkpoint of the work dir): the final weights and
    validation metrics equal the uninterrupted run's, bit for bit."""
    data = make_ade20k(str(tmp_path / 'ade'), num_train=16, num_val=4,
                       size=(96, 96))
    config = write(tmp_path / 'demo.py', TINY_DEMO.format(
        root=ROOT, demo=DEMO, heads=FPN_HEADS,
        backbone=BACKBONE.format(arch=TINY_HAT_NET)))
    options = ['--cfg-options', 'train_cfg.max_iters=8',
               'train_cfg.val_interval=8',
               'default_hooks.checkpoint.interval=2',
               *(f'{split}_dataloader.dataset.data_root={data}'
                 for split in ('train', 'val', 'test'))]
    straight = tmp_path / 'straight'
    run_tool('train.py', config, '--work-dir', straight, *options)
    for kill_at in (2, 6):
        crashed = tmp_path / f'killed_at_{kill_at}'
        kill_after_checkpoint(config, crashed, f'iter_{kill_at}.pth',
                              *options)
        assert not (crashed / 'iter_8.pth').exists(), 'killed too late'
        run_tool('train.py', config, '--work-dir', crashed, '--resume',
                 *options)
        assert_same_weights(straight / 'iter_8.pth', crashed / 'iter_8.pth')
        metrics = [[r for r in train_scalars(d) if 'mIoU' in r][-1]
                   for d in (straight, crashed)]
        assert metrics[0]['mIoU'] == metrics[1]['mIoU']


# What the shipped configs leave unset stays unset: no seed, no deterministic
# mode, their log level
AS_SHIPPED = ''


def recorded_seed(checkpoint):
    """The seed a runner checkpoint records (mmengine's meta)."""
    return torch.load(checkpoint, weights_only=False)['meta']['seed']


@pytest.mark.parametrize('family', ['hat_net', 'clustr', 'hafa', 'hlg'])
def test_unseeded_paper_config_resumes_to_the_uninterrupted_result(
        tmp_path, datasets, family):
    """Each family's ADE20K config as shipped, without a seed (Semantic FPN;
    SETR-PUP for HLG: 2 persistent workers, random resize / crop / flip,
    dropout in the decode heads), stochastic depth on, shrunk in sizes and
    to 6 iterations with a checkpoint every 2: SIGKILL once iter_2 is
    written, `--resume` (without a seed either), SIGKILL again once iter_4
    is written, `--resume`: the weights equal those of the uninterrupted
    run with the seed the first part drew. Before, mmengine drew a new seed
    on resume and built the sampler and the workers' seeds from it (320 of
    327 tensors differed)."""
    config = seg_config(tmp_path, datasets, 6, 2, family, common=AS_SHIPPED)
    depth = ['--cfg-options', 'model.backbone.drop_path_rate=0.1']
    crashed, straight = tmp_path / 'crashed', tmp_path / 'straight'
    kill_after_checkpoint(config, crashed, 'iter_2.pth', *depth)
    seed = recorded_seed(crashed / 'iter_2.pth')
    kill_after_checkpoint(config, crashed, 'iter_4.pth', '--resume', *depth)
    assert not (crashed / 'iter_6.pth').exists(), 'killed too late'
    result = run_tool('train.py', config, '--work-dir', crashed, '--resume',
                      *depth)
    assert (f'Resuming from {crashed}/iter_4.pth: using the seed {seed} '
            'that the run drew and recorded there') in result.stdout
    run_tool('train.py', config, '--work-dir', straight, *depth,
             f'randomness.seed={seed}')
    assert_same_weights(straight / 'iter_6.pth', crashed / 'iter_6.pth')


@pytest.mark.parametrize('family,detector', [
    ('hat_net', 'retinanet'), ('clustr', 'retinanet'), ('hafa', 'mask-rcnn'),
    ('hlg', 'retinanet')])
def test_epoch_based_paper_config_preempted_mid_epoch_resumes_exactly(
        tmp_path, family, detector):
    """Each family's COCO detector config as shipped, without a seed (its 2
    persistent workers, random flip, the warm-up learning rate rising every
    iteration), stochastic depth on, shrunk to 2 epochs of 4 iterations,
    launched with ``--resume`` each time as a job script would: SIGKILL once
    ``epoch_1.pth`` is written, then SIGTERM to the job's
    process group once iteration 6 is logged, in the middle of epoch 2 (it
    stops after 6 or 7), then once more: the parts train each iteration
    once (the killed part's iterations after ``epoch_1.pth`` again), on the
    uninterrupted run's learning rates, to its weights. Before, mmengine's
    loop trained epoch 2 again from its start (6 or 7 iterations instead of
    3 or 2, to a later learning rate), and its restarted persistent workers
    drew other flips."""
    coco = make_coco(str(tmp_path / 'coco'), num_train=8, num_val=2,
                     size=(96, 96))
    config = det_config(
        tmp_path, coco, family, detector,
        common=AS_SHIPPED + 'param_scheduler = _base_.param_scheduler\n')
    options = ['--resume', '--cfg-options', 'train_cfg.max_epochs=2',
               'train_cfg.val_interval=2', 'model.backbone.drop_path_rate=0.1']
    stopped, straight = tmp_path / 'stopped', tmp_path / 'straight'
    kill_after_checkpoint(config, stopped, 'epoch_1.pth', *options)
    terminate_after_iteration(config, stopped, 6, *options)
    assert not (stopped / 'epoch_2.pth').exists(), 'stopped too late'
    result = run_tool('train.py', config, '--work-dir', stopped, *options)
    assert 'in the middle of epoch 2' in result.stdout
    seed = recorded_seed(stopped / 'epoch_1.pth')
    run_tool('train.py', config, '--work-dir', straight, *options,
             f'randomness.seed={seed}')
    uninterrupted = rates(straight)
    assert [i for i, _ in uninterrupted] == list(range(1, 9))
    parts = [rates(stopped, run) for run in range(3)]
    first = parts.pop(0)  # the killed run loses what followed epoch_1.pth
    assert first == uninterrupted[:len(first)] and len(first) >= 4
    uninterrupted = uninterrupted[4:]
    assert sum(parts, []) == uninterrupted
    assert_same_weights(straight / 'epoch_2.pth', stopped / 'epoch_2.pth')


def rates(work_dir, run=-1):
    """``(iteration, lr)`` of each training iteration that the ``run``-th
    run in ``work_dir`` (by start time) has logged so far."""
    return [(r['iter'], r['lr']) for r in run_scalars(work_dir, run)
            if 'loss' in r]


def run_scalars(work_dir, run=-1):
    """The records the ``run``-th run in ``work_dir`` (by start time) has
    logged so far (whole lines); none before it has started."""
    found = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not -len(found) <= run < len(found):
        return []
    with open(found[run]) as f:
        text = f.read()
    return [json.loads(line) for line in text.splitlines(keepends=True)
            if line.endswith('\n')]


def terminate_after_iteration(config, work_dir, iteration, *options,
                              timeout=300):
    """Start training and, once it has logged ``iteration``, send SIGTERM to
    its process group (a job scheduler's preemption: the data workers get it
    too); it must save and exit 143."""
    runs = len(glob.glob(osp.join(work_dir, '*', 'vis_data')))
    process = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
         '--work-dir', str(work_dir), *options], cwd=ROOT,
        start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while not any(r.get('iter') == iteration
                  for r in run_scalars(work_dir, runs)):
        assert process.poll() is None, \
            f'training ended before iteration {iteration}'
        assert time.monotonic() - start < timeout
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(60) == 143


def kill_after_checkpoint(config, work_dir, checkpoint='', *options,
                          timeout=300):
    """Start training and SIGKILL it as soon as ``last_checkpoint`` names a
    checkpoint (one whose name ends with ``checkpoint``)."""
    process = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
         '--work-dir', str(work_dir), *options], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer = work_dir / 'last_checkpoint'
    start = time.monotonic()
    while not (pointer.exists() and pointer.read_text().strip()
               and pointer.read_text().strip().endswith(checkpoint)):
        assert process.poll() is None, 'training ended before a checkpoint'
        assert time.monotonic() - start < timeout
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_two_processes_match_one_and_evaluate_every_sample_once(tmp_path):
    """``dist_train.sh`` with 2 CPU processes x batch 2 (with ``with_cp`` and
    ``find_unused_parameters``, as the HLG configs set) reaches the weights
    of 1 process x batch 4; ``dist_test.sh`` with 2 processes predicts each
    of 5 validation images exactly once (one process gets a padding
    duplicate) and scores as the 1-process run's final validation did."""
    config, env, data = train_one_and_two_processes(
        tmp_path, 'model.backbone.with_cp=True', 'find_unused_parameters=True')
    one, two = tmp_path / 'one', tmp_path / 'two'
    assert_same_weights(one / 'iter_3.pth', two / 'iter_3.pth', rtol=1e-4,
                        atol=1e-6)
    run_tool('dist_test.sh', config, one / 'iter_3.pth', 2, '--work-dir',
             tmp_path / 'test', '--dump', tmp_path / 'predictions.pkl',
             env=env)
    predicted = [p['img_path']
                 for p in mmengine.load(tmp_path / 'predictions.pkl')]
    assert sorted(predicted) == sorted(
        glob.glob(osp.join(data, 'images', 'validation', '*.jpg')))
    tested = logged_metrics(tmp_path / 'test')['mIoU']
    for work_dir in (one, two):  # the validation at the end of training
        validated = [r for r in train_scalars(work_dir) if 'mIoU' in r][-1]
        assert validated['mIoU'] == pytest.approx(tested)


@pytest.mark.parametrize('family,detector,metrics', [
    ('hat_net', 'retinanet', ['coco/bbox_mAP']),
    ('hat_net', 'mask-rcnn', ['coco/bbox_mAP', 'coco/segm_mAP']),
    ('clustr', 'mask-rcnn', ['coco/bbox_mAP', 'coco/segm_mAP']),
    ('hafa', 'mask-rcnn', ['coco/bbox_mAP', 'coco/segm_mAP']),
    ('hlg', 'retinanet', ['coco/bbox_mAP']),
])
def test_detectors_train_and_test(tmp_path, datasets, family, detector,
                                  metrics):
    """``tools/train.py`` then ``tools/test.py``; mmdet's ``DetInferencer``
    (docs/inference.md, a fresh process) predicts with the checkpoint the
    runner wrote, as mmseg's does in test_mim.py, and mmdet's own
    ``tools/test.py`` scores it as ours does."""
    config = det_config(tmp_path, datasets['coco'], family, detector)
    run_tool('train.py', config, '--work-dir', tmp_path / 'work')
    checkpoint = tmp_path / 'work' / 'epoch_1.pth'
    run_tool('test.py', config, checkpoint, '--work-dir', tmp_path / 'test')
    record = logged_metrics(tmp_path / 'test')
    for metric in metrics:
        assert 0 <= record[metric] <= 1
    if family == 'hat_net':  # one inferencer run per detector kind
        image = sorted(glob.glob(osp.join(datasets['coco'], 'val2017',
                                          '*.jpg')))[0]
        assert infer_upstream('det', config, checkpoint, image,
                              tmp_path).startswith('PREDICTION ')
    if (family, detector) == ('hat_net', 'mask-rcnn'):
        upstream = upstream_test('mmdet', config, checkpoint,
                                 tmp_path / 'mmdet')
        assert {m: upstream[m] for m in metrics} == \
            {m: record[m] for m in metrics}
    if (family, detector) == ('hat_net', 'retinanet'):
        # the config has no tta_pipeline: flip TTA, as mmdet's tool builds it
        run_tool('test.py', config, checkpoint, '--work-dir',
                 tmp_path / 'tta', '--tta')
        upstream = upstream_test('mmdet', config, checkpoint,
                                 tmp_path / 'mmdet-tta', '--tta')
        assert upstream['coco/bbox_mAP'] == \
            logged_metrics(tmp_path / 'tta')['coco/bbox_mAP']


def upstream_test(package, config, checkpoint, work_dir, *options):
    """The metrics that ``package``'s own ``tools/test.py`` (the file ``mim
    test`` runs, in the package's ``.mim``) logs for ``checkpoint`` with
    ``options``, in a fresh process started outside the checkout, which
    knows mmhvit only through the config's ``custom_imports``."""
    tool = osp.join(osp.dirname(importlib.util.find_spec(package).origin),
                    '.mim', 'tools', 'test.py')
    run = subprocess.run([sys.executable, tool, str(config), str(checkpoint),
                          '--work-dir', str(work_dir), *options],
                         capture_output=True, text=True, cwd='/')
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return logged_metrics(work_dir)


@pytest.mark.hat_net  # HAT-Net's ImageNet config
def test_classifier_trains_and_tests(tmp_path, datasets):
    config = write(
        tmp_path / 'cls.py',
        CLS_CONFIG.format(root=ROOT, arch=TINY_HAT_NET,
                          data=datasets['imagenet'], num_classes=4,
                          classes=SHAPE_CLASSES[:4],
                          common=COMMON))
    run_tool('train.py', config, '--work-dir', tmp_path / 'work')
    checkpoint = tmp_path / 'work' / 'epoch_2.pth'
    run_tool('test.py', config, checkpoint, '--work-dir', tmp_path / 'test')
    top1 = logged_metrics(tmp_path / 'test')['accuracy/top1']
    assert 0 <= top1 <= 100
    # mmpretrain's own tools/test.py scores the runner's checkpoint as ours
    assert upstream_test('mmpretrain', config, checkpoint,
                         tmp_path / 'mmpretrain')['accuracy/top1'] == top1
    # and with flip TTA, which the config does not define (mmpretrain's
    # default, as the RetinaNet test compares with mmdet's)
    run_tool('test.py', config, checkpoint, '--work-dir', tmp_path / 'tta',
             '--tta')
    assert 0 <= logged_metrics(tmp_path / 'tta')['accuracy/top1'] <= 100
    # mmpretrain's inferencer (docs/inference.md) on the runner's checkpoint
    image = sorted(glob.glob(osp.join(datasets['imagenet'], 'val',
                                      '*.JPEG')))[0]
    label = int(infer_upstream('cls', config, checkpoint, image,
                               tmp_path).split()[1])
    assert 0 <= label < 4


@pytest.mark.parametrize('problem', ['label', 'image'])
def test_named_data_errors_reach_the_user_through_workers(
        tmp_path, datasets, problem):
    """With the configs' loaders (2 persistent workers), a label value
    outside the classes and an unreadable image stop training with the
    SampleError naming the file (docs/errors.md rows 31, 32), not with
    ``IndexError: Target 4 is out of bounds`` or a bare assertion from a
    worker."""
    data = str(tmp_path / 'ade')
    shutil.copytree(datasets['ade20k'], data)
    if problem == 'label':
        # the 4th of 16 maps: not among the 8 (every 2nd) that the pre-flight
        # check reads (docs/errors.md row 88), so a worker meets it
        path = osp.join(data, 'annotations/training/ADE_train_00000004.png')
        label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        label[:4] = 200  # class 199 of 150 after reduce_zero_label
        cv2.imwrite(path, label)
        message = (f'SampleError: Segmentation label {path} holds values '
                   '[199]')
    else:
        path = osp.join(data, 'images/training/ADE_train_00000003.jpg')
        with open(path, 'r+b') as f:
            f.truncate(100)
        message = f'SampleError: Cannot load image {path}: '
    config = seg_config(tmp_path, dict(ade20k=data), 4, 4)
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'work',
                      fails=True)
    assert message in result.stderr, result.stderr[-3000:]
    assert 'DataLoader worker process' in result.stderr  # through a worker


def test_coco_annotation_error_with_workers(tmp_path, datasets):
    """A malformed COCO box stops a detector run with its configs' 2
    persistent workers while the dataset is built, before mmdet parses it
    (docs/errors.md row 33)."""
    data = str(tmp_path / 'coco')
    shutil.copytree(datasets['coco'], data)
    ann_file = osp.join(data, 'annotations', 'instances_train2017.json')
    with open(ann_file) as f:
        content = json.load(f)
    content['annotations'][0]['bbox'] = [1, 2, 10]
    with open(ann_file, 'w') as f:
        json.dump(content, f)
    config = det_config(tmp_path, data)
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'work',
                      fails=True)
    assert (f'SampleError: 1 annotations of {ann_file} are invalid: '
            "['image id 1: bbox [1, 2, 10] is not 4 finite numbers"
            ) in result.stderr, result.stderr[-3000:]
