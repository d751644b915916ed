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
import signal
import socket
import subprocess
import sys
import time

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
    decode_head=dict(in_channels=[32] * 4, channels=32, dropout_ratio=0.0),
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
    decode_head=dict(in_channels=[16, 32, 32, 64], channels=32, num_heads=2,
                     dropout_ratio=0.0),
    auxiliary_head=dict(in_channels=32, channels=16),
""",
        det='hlg/{}_hlg-tiny_fpn_1x_coco.py',
        dims=[16, 32, 32, 64]),
    'hlg_upernet': dict(
        arch=TINY_HLG,
        seg='hlg/upernet_hlg-small_8xb1-40k_cityscapes-768x768.py',
        data='cityscapes',
        seg_heads="""
    decode_head=dict(in_channels=[16, 32, 32, 64], channels=32,
                     dropout_ratio=0.0),
    auxiliary_head=dict(in_channels=32, channels=16),
    test_cfg=dict(mode='whole'),
"""),
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
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label={reduce_zero_label}),
    dict(type='RandomResize', scale=(128, 64), ratio_range=(0.8, 1.2),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label={reduce_zero_label}),
    dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root,
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end={iters},
                        by_epoch=False)]
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={ckpt_interval}))
{common}
"""

DET_PIPELINES = """
train_pipeline = [
    dict(type='LoadImageFromFile'),
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
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{data}',
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
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
    dict(type='LoadImageFromFile'),
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
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{data}', metainfo=metainfo,
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
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


def run_tool(*args, env=None):
    """Run tools/<args> in a fresh process, as a user would."""
    command = [osp.join(ROOT, 'tools', args[0]), *map(str, args[1:])]
    if command[0].endswith('.py'):
        command.insert(0, sys.executable)
    result = subprocess.run(command, capture_output=True, text=True,
                            cwd=ROOT, env=env)
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


def seg_config(tmp_path, datasets, iters, ckpt_interval, family='hat_net'):
    family = FAMILIES[family]
    data = family.get('data', 'ade20k')
    return write(
        tmp_path / 'seg.py',
        SEG_CONFIG.format(
            root=ROOT, base=family['seg'], data=datasets[data],
            reduce_zero_label=data == 'ade20k',
            backbone=BACKBONE.format(arch=family['arch']),
            heads=family.get('seg_heads', FPN_HEADS), iters=iters,
            ckpt_interval=ckpt_interval, common=COMMON))


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


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, datasets):
    """SIGKILL a training process once it has written a checkpoint, resume
    with ``--resume`` (the latest complete checkpoint of the work dir): the
    final weights and validation metrics equal an uninterrupted run's. Two
    seeded processes also write bit-identical checkpoints (determinism on
    the CPU)."""
    config = seg_config(tmp_path, datasets, 8, 4)
    straight, crashed = tmp_path / 'straight', tmp_path / 'crashed'
    run_tool('train.py', config, '--work-dir', straight)
    kill_after_checkpoint(config, crashed)
    assert not (crashed / 'iter_8.pth').exists(), 'killed too late'
    run_tool('train.py', config, '--work-dir', crashed, '--resume')
    assert_same_weights(straight / 'iter_4.pth', crashed / 'iter_4.pth')
    assert_same_weights(straight / 'iter_8.pth', crashed / 'iter_8.pth')
    metrics = [[r for r in train_scalars(d) if 'mIoU' in r][-1]
               for d in (straight, crashed)]
    assert metrics[0]['mIoU'] == metrics[1]['mIoU']


def kill_after_checkpoint(config, work_dir, timeout=300):
    """Start training and SIGKILL it as soon as ``last_checkpoint`` names a
    checkpoint."""
    process = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
         '--work-dir', str(work_dir)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    pointer = work_dir / 'last_checkpoint'
    start = time.monotonic()
    while not (pointer.exists() and pointer.read_text().strip()):
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


# Deterministic data (no random augmentation), group norms instead of batch
# norms (per-process batch statistics differ with the batch size) and SGD,
# whose update is linear in the averaged gradient.
DIST_CONFIG = """
_base_ = './seg.py'
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=pipeline))
model = dict(decode_head=dict(norm_cfg=dict(type='GN', num_groups=8)))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9))
"""


def test_two_processes_match_one_and_evaluate_every_sample_once(tmp_path):
    """``dist_train.sh`` with 2 CPU processes x batch 2 (with ``with_cp`` and
    ``find_unused_parameters``, as the HLG configs set) reaches the weights
    of 1 process x batch 4; ``dist_test.sh`` with 2 processes predicts each
    of 5 validation images exactly once (one process gets a padding
    duplicate) and scores as the 1-process run's final validation did."""
    data = make_ade20k(str(tmp_path / 'ade'), num_train=8, num_val=5,
                       size=(64, 64))
    seg_config(tmp_path, dict(ade20k=data), 3, 3)
    config = write(tmp_path / 'dist.py', DIST_CONFIG)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))
    one, two = tmp_path / 'one', tmp_path / 'two'
    run_tool('train.py', config, '--work-dir', one)
    run_tool('dist_train.sh', config, 2, '--work-dir', two, '--cfg-options',
             'train_dataloader.batch_size=2', 'model.backbone.with_cp=True',
             'find_unused_parameters=True', env=env)
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
