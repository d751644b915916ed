# ClusTR-T on ImageNet-1k (ClusTR Tab. 2, Sec. 4.1): 224 crops, AdamW lr 1e-3,
# weight decay 0.05, cosine schedule, 300 epochs, batch 1024; PVTv2's
# augmentation (random crop and flip, RandAugment, random erasing, label
# smoothing, mixup and cutmix).
_base_ = '../_base_/imagenet_adamw_8xb128.py'

model = dict(
    backbone=dict(
        type='mmhvit.ClusTR',
        arch='tiny',
        out_indices=(3, ),
        # Not stated; PVTv2 uses 0.1 for its B1/B2-sized models.
        drop_path_rate=0.1),
    head=dict(in_channels=512))
