"""End to end through the real runners and tools on generated data: a few
iterations of training, then testing, for Semantic FPN, RetinaNet, Mask R-CNN
and ImageNet classification; an exact resume after SIGKILL; and 2 processes
against 1 for training and testing.

Each test writes a small config that inherits the real one in configs/ (so
the upstream ``mmseg::``/``mmdet::``/``mmpretrain::`` bases are exercised)
and shrinks the data, the images and the backbone.
"""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import time

import cv2
import mmengine
import pytest
import torch

from mmhvit.datasets import (SHAPE_CLASSES, make_ade20k, make_cityscapes,
                             make_coco, make_imagenet)
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_HLG, TINY_PVT

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Tiny backbones (tiny_archs) and the configs they are tried in.
# The decode heads of the Semantic FPN configs, shrunk
FPN_HEADS = """
    neck=dict(in_channels=[16, 32, 48, 64], out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=32),
"""
FAMILIES = {
    'hat_net': dict(
        arch=TINY_HAT_NET,
        seg='hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py',
        det='hat_net/{}_hat-net-tiny_fpn_1x_coco.py'),
    'clustr': dict(
        arch=TINY_CLUSTR,
        seg='clustr/fpn_clustr-small_8xb2-80k_ade20k-512x512.py',
        det='clustr/{}_clustr-small_fpn_1x_coco.py'),
    'hafa': dict(
        arch=TINY_PVT,
        seg='hafa/fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py',
        det='hafa/{}_pvt-tiny-hafa_fpn_1x_coco.py'),
    'hlg': dict(
        arch=TINY_HLG,
        seg='hlg/setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py',
        seg_heads="""
    decode_head=dict(in_channels=[16, 32, 32, 64], channels=32, num_heads=2),
    auxiliary_head=dict(in_channels=32, channels=16),
""",
        det='hlg/{}_hlg-tiny_fpn_1x_coco.py',
        dims=[16, 32, 32, 64]),
    'hlg_upernet': dict(
        arch=TINY_HLG,
        seg='hlg/upernet_hlg-small_8xb1-40k_cityscapes-768x768.py',
        data='cityscapes',
        seg_heads="""
    decode_head=dict(in_channels=[16, 32, 32, 64], channels=32),
    auxiliary_head=dict(in_channels=32, channels=16),
""",
        # 19 classes and dropout in both heads: 30 iterations at 2e-3 left
        # the loss at 0.81 of its start
        lr=4e-3),
}
COMMON = """
randomness = dict(seed=0, deterministic=True)
log_level = 'WARNING'
"""
BACKBONE = """
    backbone=dict(arch=dict(_delete_=True, **{arch!r}), init_cfg=None,
                  drop_path_rate=0.0),
"""
DET_NECK = """
    neck=dict(in_channels={dims}, out_channels=32),
"""

SEG_CONFIG = """
_base_ = '{root}/configs/{base}'
data_root = '{data}'
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
{backbone}{heads})
pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(type='mmhvit.CheckedLoadSegAnnotations', num_classes={num_classes},
         reduce_zero_label={reduce_zero_label}),
    dict(type='RandomResize', scale=(128, 64), ratio_range=(0.8, 1.2),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label={reduce_zero_label}),
    dict(type='mmhvit.CheckSegLabels', num_classes={num_classes}),
    dict(type='PackSegInputs')]
# the configs' loader settings: several persistent workers, batches > 1
train_dataloader = dict(batch_size=4, num_workers=2, persistent_workers=True,
                        dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                      dataset=dict(data_root=data_root,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr={lr}))
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end={iters},
                        by_epoch=False)]
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval}))
{common}
"""

DET_PIPELINES = """
train_pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask={with_mask}),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask={with_mask}),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))]
train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                        dataset=dict(data_root='{data}',
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                      dataset=dict(data_root='{data}',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='{data}/annotations/instances_val2017.json')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = []
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1))
"""

DET_CONFIG = """
_base_ = '{root}/configs/{base}'
model = dict(
{backbone}{neck}
    {head})
{pipelines}
{common}
"""
# score_thr 0: an untrained detector still yields boxes to evaluate
RETINA_HEAD = '''bbox_head=dict(feat_channels=32, in_channels=32),
    test_cfg=dict(score_thr=0.0)'''
MASK_HEAD = """rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32)),
    test_cfg=dict(rcnn=dict(score_thr=0.0))"""

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


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def run_tool(*args, env=None, fails=False):
    """Run tools/<args> in a fresh process, as a user would; it must
    succeed (or, with ``fails``, fail)."""
    command = [osp.join(ROOT, 'tools', args[0]), *map(str, args[1:])]
    if command[0].endswith('.py'):
        command.insert(0, sys.executable)
    result = subprocess.run(command, capture_output=True, text=True,
                            cwd=ROOT, env=env)
    if fails:
        assert result.returncode != 0, result.stdout[-2000:]
        return result
    errors = [line for line in result.stderr.splitlines()
              if 'Error' in line or 'error' in line]
    assert result.returncode == 0, '\n'.join(
        [result.stdout[-2000:], result.stderr[-4000:], *errors[-20:]])
    return result


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def read_json_lines(pattern):
    with open(sorted(glob.glob(pattern))[-1]) as f:
        return [json.loads(line) for line in f]


def train_scalars(work_dir):
    """Per-iteration records of a training run."""
    return read_json_lines(
        osp.join(work_dir, '*', 'vis_data', 'scalars.json'))


def logged_metrics(work_dir):
    """The metrics ``tools/test.py`` logged."""
    return read_json_lines(osp.join(work_dir, '*', '*.json'))[-1]


def seg_config(tmp_path, datasets, iters, ckpt_interval, family='hat_net',
               common=COMMON):
    family = FAMILIES[family]
    data = family.get('data', 'ade20k')
    return write(
        tmp_path / 'seg.py',
        SEG_CONFIG.format(
            root=ROOT, base=family['seg'], data=datasets[data],
            reduce_zero_label=data == 'ade20k',
            num_classes=150 if data == 'ade20k' else 19,
            backbone=BACKBONE.format(arch=family['arch']),
            heads=family.get('seg_heads', FPN_HEADS), iters=iters,
            lr=family.get('lr', 2e-3),
            ckpt_interval=ckpt_interval, common=common))


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


def test_unseeded_paper_config_resumes_to_the_uninterrupted_result(
        tmp_path, datasets):
    """HAT-Net's Semantic FPN ADE20K config as shipped, without a seed
    (its 2 persistent workers, random resize / crop / flip, dropout in the
    decode head), shrunk in sizes and to 4 iterations with a checkpoint
    every 2: SIGKILL once iter_2 is written, `--resume` (without a seed
    either): the weights equal those of the uninterrupted run with the seed
    the first part drew. Before, mmengine drew a new seed on resume and
    built the sampler and the workers' seeds from it (320 of 327 tensors
    differed)."""
    config = seg_config(tmp_path, datasets, 4, 2, common=AS_SHIPPED)
    crashed, straight = tmp_path / 'crashed', tmp_path / 'straight'
    kill_after_checkpoint(config, crashed, 'iter_2.pth')
    assert not (crashed / 'iter_4.pth').exists(), 'killed too late'
    seed = recorded_seed(crashed / 'iter_2.pth')
    result = run_tool('train.py', config, '--work-dir', crashed, '--resume')
    assert (f'Resuming from {crashed}/iter_2.pth: using the seed {seed} '
            'that the run drew and recorded there') in result.stdout
    run_tool('train.py', config, '--work-dir', straight, '--cfg-options',
             f'randomness.seed={seed}')
    assert_same_weights(straight / 'iter_4.pth', crashed / 'iter_4.pth')


def test_epoch_based_paper_config_preempted_mid_epoch_resumes_exactly(
        tmp_path):
    """HAT-Net's RetinaNet config as shipped, without a seed (its 2
    persistent workers, random flip, the warm-up learning rate rising every
    iteration), shrunk to 2 epochs of 4 iterations: SIGTERM to the job's
    process group once iteration 5 is logged, in the middle of epoch 2:
    `--resume` trains the remaining iterations only, on the uninterrupted
    run's learning rates, to its weights. Before, mmengine's loop trained
    epoch 2 again from its start (6 or 7 iterations instead of 3 or 2, to
    a later learning rate), and its restarted persistent workers drew other
    flips."""
    coco = make_coco(str(tmp_path / 'coco'), num_train=8, num_val=2,
                     size=(96, 96))
    family = FAMILIES['hat_net']
    config = write(tmp_path / 'det.py', DET_CONFIG.format(
        root=ROOT, base=family['det'].format('retinanet'),
        backbone=BACKBONE.format(arch=family['arch']),
        neck=DET_NECK.format(dims=[16, 32, 48, 64]), head=RETINA_HEAD,
        pipelines=DET_PIPELINES.format(data=coco, with_mask=False),
        common=AS_SHIPPED + 'param_scheduler = _base_.param_scheduler\n'))
    options = ['--cfg-options', 'train_cfg.max_epochs=2',
               'train_cfg.val_interval=2']
    stopped, straight = tmp_path / 'stopped', tmp_path / 'straight'
    process = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
         '--work-dir', str(stopped), *options], cwd=ROOT,
        start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while not any(r.get('iter') == 5 for r in first_run_scalars(stopped)):
        assert process.poll() is None, 'training ended before iteration 5'
        assert time.monotonic() - start < 300
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(60) == 143
    first = [(r['iter'], r['lr']) for r in first_run_scalars(stopped)
             if 'loss' in r]
    assert not (stopped / 'epoch_2.pth').exists(), 'stopped too late'
    seed = recorded_seed(stopped / 'epoch_1.pth')
    result = run_tool('train.py', config, '--work-dir', stopped, '--resume',
                      *options)
    assert 'in the middle of epoch 2' in result.stdout
    run_tool('train.py', config, '--work-dir', straight, *options,
             f'randomness.seed={seed}')
    rates = {d: [(r['iter'], r['lr']) for r in train_scalars(d)
                 if 'loss' in r] for d in (stopped, straight)}
    assert [i for i, _ in first] + [i for i, _ in rates[stopped]] == \
        list(range(1, 9))
    assert first + rates[stopped] == rates[straight]
    assert_same_weights(straight / 'epoch_2.pth', stopped / 'epoch_2.pth')


def first_run_scalars(work_dir):
    """The records the first run in ``work_dir`` has logged so far (whole
    lines)."""
    found = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not found:
        return []
    with open(found[0]) as f:
        text = f.read()
    return [json.loads(line) for line in text.splitlines(keepends=True)
            if line.endswith('\n')]


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


def assert_same_weights(a, b, **tolerance):
    """Equal ``state_dict`` s (exactly, unless a tolerance is given)."""
    a = torch.load(a, weights_only=False)['state_dict']
    b = torch.load(b, weights_only=False)['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        torch.testing.assert_close(
            b[key], value, msg=key, **(tolerance or dict(rtol=0, atol=0)))


# Deterministic data (no random augmentation), no dropout (its masks are drawn
# per process: 2 processes cannot draw what 1 draws), group norms instead of
# batch norms (per-process batch statistics differ with the batch size) and
# SGD, whose update is linear in the averaged gradient.
DIST_CONFIG = """
_base_ = './seg.py'
pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(type='mmhvit.CheckedLoadSegAnnotations', num_classes=150,
         reduce_zero_label=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=pipeline))
model = dict(decode_head=dict(norm_cfg=dict(type='GN', num_groups=8),
                             dropout_ratio=0.0))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9))
"""


def train_one_and_two_processes(tmp_path, *options):
    """3 iterations of :data:`DIST_CONFIG` by ``train.py`` (1 process x
    batch 4, work dir ``one``) and by ``dist_train.sh`` (2 processes x batch
    2 and ``--cfg-options`` ``options``, work dir ``two``); the config, the
    environment and the data folder."""
    data = make_ade20k(str(tmp_path / 'ade'), num_train=8, num_val=5,
                       size=(64, 64))
    seg_config(tmp_path, dict(ade20k=data), 3, 3)
    config = write(tmp_path / 'dist.py', DIST_CONFIG)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))
    run_tool('train.py', config, '--work-dir', tmp_path / 'one')
    run_tool('dist_train.sh', config, 2, '--work-dir', tmp_path / 'two',
             '--cfg-options', 'train_dataloader.batch_size=2', *options,
             env=env)
    return config, env, data


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
             tmp_path / 'test', '--out', tmp_path / 'predictions.pkl',
             env=env)
    predicted = [p['img_path']
                 for p in mmengine.load(tmp_path / 'predictions.pkl')]
    assert sorted(predicted) == sorted(
        glob.glob(osp.join(data, 'images', 'validation', '*.jpg')))
    tested = logged_metrics(tmp_path / 'test')['mIoU']
    for work_dir in (one, two):  # the validation at the end of training
        validated = [r for r in train_scalars(work_dir) if 'mIoU' in r][-1]
        assert validated['mIoU'] == pytest.approx(tested)


@pytest.mark.parametrize('family,detector,head,with_mask,metrics', [
    ('hat_net', 'retinanet', RETINA_HEAD, False, ['coco/bbox_mAP']),
    ('hat_net', 'mask-rcnn', MASK_HEAD, True,
     ['coco/bbox_mAP', 'coco/segm_mAP']),
    ('clustr', 'mask-rcnn', MASK_HEAD, True,
     ['coco/bbox_mAP', 'coco/segm_mAP']),
    ('hafa', 'mask-rcnn', MASK_HEAD, True,
     ['coco/bbox_mAP', 'coco/segm_mAP']),
    ('hlg', 'retinanet', RETINA_HEAD, False, ['coco/bbox_mAP']),
])
def test_detectors_train_and_test(tmp_path, datasets, family, detector, head,
                                  with_mask, metrics):
    pipelines = DET_PIPELINES.format(data=datasets['coco'],
                                     with_mask=with_mask)
    family = FAMILIES[family]
    config = write(
        tmp_path / 'det.py',
        DET_CONFIG.format(
            root=ROOT, base=family['det'].format(detector),
            backbone=BACKBONE.format(arch=family['arch']),
            neck=DET_NECK.format(dims=family.get('dims', [16, 32, 48, 64])),
            head=head,
            pipelines=pipelines, common=COMMON))
    run_tool('train.py', config, '--work-dir', tmp_path / 'work')
    run_tool('test.py', config, tmp_path / 'work' / 'epoch_1.pth',
             '--work-dir', tmp_path / 'test')
    record = logged_metrics(tmp_path / 'test')
    for metric in metrics:
        assert 0 <= record[metric] <= 1


def test_classifier_trains_and_tests(tmp_path, datasets):
    config = write(
        tmp_path / 'cls.py',
        CLS_CONFIG.format(root=ROOT, arch=TINY_HAT_NET,
                          data=datasets['imagenet'], num_classes=4,
                          classes=SHAPE_CLASSES[:4],
                          common=COMMON))
    run_tool('train.py', config, '--work-dir', tmp_path / 'work')
    run_tool('test.py', config, tmp_path / 'work' / 'epoch_2.pth',
             '--work-dir', tmp_path / 'test')
    assert 0 <= logged_metrics(tmp_path / 'test')['accuracy/top1'] <= 100


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
    family = FAMILIES['hat_net']
    config = write(tmp_path / 'det.py', DET_CONFIG.format(
        root=ROOT, base=family['det'].format('retinanet'),
        backbone=BACKBONE.format(arch=family['arch']),
        neck=DET_NECK.format(dims=[16, 32, 48, 64]), head=RETINA_HEAD,
        pipelines=DET_PIPELINES.format(data=data, with_mask=False),
        common=COMMON))
    result = run_tool('train.py', config, '--work-dir', tmp_path / 'work',
                      fails=True)
    assert (f'SampleError: 1 annotations of {ann_file} are invalid: '
            "['image id 1: bbox [1, 2, 10] is not 4 finite numbers"
            ) in result.stderr, result.stderr[-3000:]
