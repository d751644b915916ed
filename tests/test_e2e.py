"""End to end through the real runners and tools on generated data: a few
iterations of training, then testing, for Semantic FPN, RetinaNet, Mask R-CNN
and ImageNet classification; and an exact resume.

Each test writes a small config that inherits the real one in configs/ (so
the upstream ``mmseg::``/``mmdet::``/``mmpretrain::`` bases are exercised)
and shrinks the data, the images and the backbone.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from mmhvit.datasets import (make_ade20k, make_cityscapes, make_coco,
                             make_imagenet)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Backbones small enough for CPU tests, with the code paths of the paper's
# archs, and the configs they are tried in.
TEST_ARCH = dict(stem_channels=8, embed_dims=(16, 32, 48, 64),
                 depths=(1, 1, 1, 1), head_dim=16, mlp_ratios=(2, 2, 2, 2),
                 kernel_sizes=(3, 3, 3, 3))
# (stage widths must be multiples of the previous one in HLG)
HLG_ARCH = dict(embed_dims=(16, 32, 32, 64), num_heads=(1, 2, 2, 4),
                depths=(1, 2, 1, 1))  # stage 2: a plain and a dilated layer
# The decode heads of the Semantic FPN configs, shrunk
FPN_HEADS = """
    neck=dict(in_channels=[16, 32, 48, 64], out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=32, dropout_ratio=0.0),
"""
FAMILIES = {
    'hat_net': dict(
        arch=TEST_ARCH,
        seg='hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py',
        det='hat_net/{}_hat-net-tiny_fpn_1x_coco.py'),
    'clustr': dict(
        arch=dict(embed_dims=(16, 32, 48, 64), depths=(1, 1, 1, 1),
                  num_heads=(1, 1, 2, 2), mlp_ratios=(2, 2, 2, 2),
                  reduction_ratios=((64, 16), (16, 4), (4, 1), (1, ))),
        seg='clustr/fpn_clustr-small_8xb2-80k_ade20k-512x512.py',
        det='clustr/{}_clustr-small_fpn_1x_coco.py'),
    'hafa': dict(
        arch=dict(embed_dims=16, num_layers=[1, 1, 1, 1],
                  num_heads=[1, 2, 3, 4]),
        seg='hafa/fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py',
        det='hafa/{}_pvt-tiny-hafa_fpn_1x_coco.py'),
    'hlg': dict(
        arch=HLG_ARCH,
        seg='hlg/setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py',
        seg_heads="""
    decode_head=dict(in_channels=[16, 32, 32, 64], channels=32, num_heads=2,
                     dropout_ratio=0.0),
    auxiliary_head=dict(in_channels=32, channels=16),
""",
        det='hlg/{}_hlg-tiny_fpn_1x_coco.py',
        dims=[16, 32, 32, 64]),
    'hlg_upernet': dict(
        arch=HLG_ARCH,
        seg='hlg/upernet_hlg-small_8xb1-40k_cityscapes-768x768.py',
        data='cityscapes',
        seg_heads="""
    decode_head=dict(in_channels=[16, 32, 32, 64], channels=32,
                     dropout_ratio=0.0),
    auxiliary_head=dict(in_channels=32, channels=16),
    test_cfg=dict(mode='whole'),
"""),
}
COMMON = f"""
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
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{data}',
                                     pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root='{data}', pipeline=test_pipeline))
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
def test_segmentor_trains_loss_falls_and_tests(tmp_path, datasets,
                                                  family):
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


def test_resume_reproduces_uninterrupted_run(tmp_path, datasets):
    config = seg_config(tmp_path, datasets, 6, 3)
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run_tool('train.py', config, '--work-dir', straight)
    run_tool('train.py', config, '--work-dir', resumed, '--resume',
             straight / 'iter_3.pth')
    a = torch.load(straight / 'iter_6.pth', weights_only=False)
    b = torch.load(resumed / 'iter_6.pth', weights_only=False)
    assert b['meta']['iter'] == 6
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, msg=key)


def test_dist_train_runs_two_cpu_processes(tmp_path, datasets):
    """tools/dist_train.sh (torchrun, gloo) on a machine without CUDA, with
    the config's SyncBN; see mmhvit/compat.py."""
    config = seg_config(tmp_path, datasets, 4, 4)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()))
    run_tool('dist_train.sh', config, 2, '--work-dir', tmp_path / 'work',
             env=env)
    assert (tmp_path / 'work' / 'iter_4.pth').is_file()


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
            backbone=BACKBONE.format(arch=family['arch']), neck=DET_NECK.format(
                dims=family.get('dims', [16, 32, 48, 64])),
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
        CLS_CONFIG.format(root=ROOT, arch=TEST_ARCH, data=datasets['imagenet'],
                          num_classes=4, common=COMMON))
    run_tool('train.py', config, '--work-dir', tmp_path / 'work')
    run_tool('test.py', config, tmp_path / 'work' / 'epoch_2.pth',
             '--work-dir', tmp_path / 'test')
    assert 0 <= logged_metrics(tmp_path / 'test')['accuracy/top1'] <= 100
