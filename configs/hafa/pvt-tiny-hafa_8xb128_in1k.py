# PVT-Tiny with HAFA on ImageNet-1k (HAFA Tab. 1, Sec. 4.1): AdamW lr 1e-3,
# weight decay 0.05, cosine schedule, 300 epochs from scratch, mini-batch 128
# per GPU on 8 GPUs, 224 crops; random crop and flip, label smoothing, mixup,
# CutMix and random erasing.
_base_ = '../_base_/imagenet_adamw_8xb128.py'

model = dict(
    backbone=dict(
        type='mmhvit.PVTHAFA',
        arch='tiny',
        out_indices=(3, ),
        # PVT's stochastic depth for its Tiny and Small models.
        drop_path_rate=0.1),
    head=dict(in_channels=512))

# The paper's augmentations (no RandAugment).
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# The offsets of LAA learn at 1/100 of the lr, as in LIT, whose deformable
# merging LAA follows (not stated in HAFA).
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.offset.': dict(lr_mult=0.01)}))
