"""What several test files share: the checkout's root, running a tool as a
user does (a fresh process) or in this process, the tiny children of the
shipped configs (data, backbone and heads shrunk) that the end-to-end tests
train, and small inputs. Test files import these from here, never from one
another."""
import glob
import json
import os
import os.path as osp
import re
import runpy
import socket
import subprocess
import sys

import torch
from mmengine.structures import PixelData

from mmhvit.datasets import make_ade20k
from tiny_archs import TINY_CLUSTR, TINY_HAT_NET, TINY_HLG, TINY_PVT

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


# ------------------------------------------------------------- running tools
def run_tool(*args, env=None, fails=False):
    """Run tools/<args> in a fresh process, as a user would; it must
    succeed (or, with ``fails``, fail). Returns the completed process."""
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


def run_tool_in_process(monkeypatch, tool, *args):
    """``tools/<tool> args`` as ``__main__`` in this process (imports and
    patches are shared with the test)."""
    monkeypatch.setattr(sys, 'argv', [tool, *map(str, args)])
    runpy.run_path(osp.join(ROOT, 'tools', tool), run_name='__main__')


# The upstream inferencers as docs/inference.md shows them, on our config and
# a checkpoint: what each prints of its prediction
UPSTREAM_INFERENCERS = dict(
    seg=("from mmseg.apis import MMSegInferencer as Inferencer",
         "print('PREDICTION', result['predictions'].shape)"),
    det=("from mmdet.apis import DetInferencer as Inferencer",
         "print('PREDICTION', len(result['predictions'][0]['labels']))"),
    cls=("from mmpretrain.apis import ImageClassificationInferencer as "
         "Inferencer",
         "print('PREDICTION', result[0]['pred_label'])"))
UPSTREAM_INFERENCE = """
import sys
{imports}
config, checkpoint, image = sys.argv[1:]
result = Inferencer(config, checkpoint, device='cpu')(image)
{output}
"""


def infer_upstream(task, config, checkpoint, image, tmp_path):
    """Predict ``image`` with the upstream inferencer of ``task`` (``seg``,
    ``det``, ``cls``) in a fresh process started outside the checkout, which
    knows mmhvit only through the config's ``custom_imports``. Returns what
    it printed of the prediction."""
    imports, output = UPSTREAM_INFERENCERS[task]
    script = write(tmp_path / f'infer_{task}.py', UPSTREAM_INFERENCE.format(
        imports=imports, output=output))
    run = subprocess.run(
        [sys.executable, script, str(config), str(checkpoint), str(image)],
        capture_output=True, text=True, cwd='/')
    assert run.returncode == 0, run.stderr[-3000:]
    # after the inferencers' progress bar, on its line (no newline of its own)
    printed = re.search(r'PREDICTION .*', run.stdout)
    assert printed, run.stdout[-3000:]
    return printed.group()


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


def assert_same_weights(a, b, **tolerance):
    """Equal ``state_dict`` s (exactly, unless a tolerance is given)."""
    a = torch.load(a, weights_only=False)['state_dict']
    b = torch.load(b, weights_only=False)['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        torch.testing.assert_close(
            b[key], value, msg=key, **(tolerance or dict(rtol=0, atol=0)))


# --------------------------------------------------------------- tiny heads
def as_arguments(fields):
    """``dict`` fields as the keyword arguments of a config's ``dict(...)``.
    """
    return ', '.join(f'{key}={value!r}' for key, value in fields.items())


# The detectors' heads shrunk to the 32 channels of the shrunk FPN (test
# settings, e.g. a score threshold of 0, are each test's own)
TINY_DET_HEADS = {
    'mask-rcnn': dict(
        rpn_head=dict(in_channels=32, feat_channels=32),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=32),
            bbox_head=dict(in_channels=32, fc_out_channels=64),
            mask_roi_extractor=dict(out_channels=32),
            mask_head=dict(in_channels=32, conv_out_channels=32))),
    'retinanet': dict(bbox_head=dict(in_channels=32, feat_channels=32)),
}

# ----------------------------------------- tiny children of shipped configs
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
RETINA_HEAD = as_arguments(dict(TINY_DET_HEADS['retinanet'],
                                test_cfg=dict(score_thr=0.0)))
MASK_HEAD = as_arguments(dict(TINY_DET_HEADS['mask-rcnn'],
                              test_cfg=dict(rcnn=dict(score_thr=0.0))))


def seg_config(tmp_path, datasets, iters, ckpt_interval, family='hat_net',
               common=COMMON):
    """``tmp_path/seg.py``: the tiny child of ``family``'s segmentation
    config on ``datasets`` (``{'ade20k': root}`` or cityscapes), ending with
    ``common``."""
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


def det_config(tmp_path, data, family='hat_net', detector='retinanet',
               common=COMMON):
    """``tmp_path/det.py``: the tiny child of ``family``'s ``detector``
    (``'retinanet'`` or ``'mask-rcnn'``) config on the COCO set ``data``,
    ending with ``common``."""
    family = FAMILIES[family]
    with_mask = detector == 'mask-rcnn'
    return write(
        tmp_path / 'det.py',
        DET_CONFIG.format(
            root=ROOT, base=family['det'].format(detector),
            backbone=BACKBONE.format(arch=family['arch']),
            neck=DET_NECK.format(dims=family.get('dims', [16, 32, 48, 64])),
            head=MASK_HEAD if with_mask else RETINA_HEAD,
            pipelines=DET_PIPELINES.format(data=data, with_mask=with_mask),
            common=common))


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


# --------------------------------------------------------------- small inputs
def seg_batch(size=64, num_classes=150):
    """A segmentor's training batch of one random image and label map."""
    from mmseg.structures import SegDataSample
    sample = SegDataSample(gt_sem_seg=PixelData(
        data=torch.randint(0, num_classes, (1, size, size))))
    sample.set_metainfo(dict(img_shape=(size, size), pad_shape=(size, size),
                             ori_shape=(size, size)))
    return dict(inputs=[torch.randint(0, 256, (3, size, size),
                                      dtype=torch.uint8)],
                data_samples=[sample])


def det_batch(size=128):
    """A detector's training batch of one image with 3 boxes and masks."""
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(batch_size=1, image_shapes=[(3, size, size)],
                          num_items=[3], num_classes=80, with_mask=True)


def blobs(batch=2, per_blob=30, num_blobs=6, channels=8, seed=0,
          shuffle=True):
    """Tokens in tight, far-apart Gaussian blobs and their blob ids; blobs
    are contiguous in token order (like image regions) unless shuffled."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(batch, num_blobs, channels, generator=gen) * 10
    ids = torch.arange(num_blobs).repeat_interleave(per_blob)
    if shuffle:
        ids = ids[torch.randperm(len(ids), generator=gen)]
    ids = ids.expand(batch, -1)
    x = centres.gather(1, ids[..., None].expand(-1, -1, channels))
    return x + 0.1 * torch.randn(x.shape, generator=gen), ids


def same_partition(a, b):
    """Two labelings of the same tokens define the same groups."""
    for la, lb in zip(a, b):
        pairs = torch.unique(torch.stack([la, lb]), dim=1)
        if not (len(torch.unique(pairs[0])) == len(torch.unique(pairs[1]))
                == pairs.shape[1]):
            return False
    return True


def coco_file(tmp_path, **annotation):
    """``tmp_path/instances.json``: a COCO file of one image and one
    annotation, ``annotation`` changed."""
    path = tmp_path / 'instances.json'
    ann = dict(id=1, image_id=7, category_id=1, area=100, iscrowd=0,
               bbox=[1, 2, 10, 10], segmentation=[[1, 2, 11, 2, 11, 12]])
    ann.update(annotation)
    path.write_text(json.dumps(dict(
        images=[dict(id=7, file_name='7.jpg', width=100, height=100)],
        categories=[dict(id=1, name='person')], annotations=[ann])))
    return str(path)


def assert_same_outputs_and_grads(their_outs, their_grads, our_outs,
                                  our_grads):
    """Outputs and every parameter's gradient of two implementations of one
    model (same weights) agree to 1e-5."""
    for theirs_out, ours_out in zip(their_outs, our_outs):
        torch.testing.assert_close(ours_out, theirs_out, atol=1e-5,
                                   rtol=1e-5)
    for name, grad in their_grads.items():
        torch.testing.assert_close(our_grads[name], grad, atol=1e-5,
                                   rtol=1e-5, msg=name)
