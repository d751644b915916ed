# The `make demo` job: Semantic FPN + HAT-Net-Tiny on the synthetic
# ADE20K-format set that tools/misc/demo.py generates, trained from scratch on
# a CPU in a few minutes. Everything but the data, the image size and the
# schedule is the paper's configuration (../hat_net/).
_base_ = '../hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'

data_root = 'data/synthetic/ADEChallengeData2016'
crop_size = (96, 96)
model = dict(
    data_preprocessor=dict(size=crop_size),
    # no ImageNet weights offline: train from scratch, without stochastic
    # depth, which only slows down so short a schedule
    backbone=dict(init_cfg=None, drop_path_rate=0.0))

train_pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(
        type='mmhvit.CheckedLoadSegAnnotations',
        reduce_zero_label=True,
        num_classes=150),
    dict(
        type='RandomResize',
        scale=(384, 96),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 96), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='mmhvit.CheckSegLabels', num_classes=150),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
# the total batch the demo's lr is for (--auto-scale-lr)
auto_scale_lr = dict(enable=False, base_batch_size=8)

max_iters = 400
# from scratch, a larger lr than the paper's fine-tuning 1e-4
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
