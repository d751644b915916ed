# ClusTR-T on ImageNet-1k (ClusTR Tab. 2, Sec. 4.1): 224 crops, AdamW lr 1e-3,
# weight decay 0.05, cosine schedule, 300 epochs, batch 1024; PVTv2's
# augmentation (random crop and flip, RandAugment, random erasing, label
# smoothing, mixup and cutmix).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmhvit.models'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmhvit.ClusTR',
        arch='tiny',
        out_indices=(3, ),
        # Not stated; PVTv2 uses 0.1 for its B1/B2-sized models.
        drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

# lr 1e-3 at the total batch of 1024 (Sec. 4.1); PVTv2's 5 warm-up epochs.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=5,
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
auto_scale_lr = dict(base_batch_size=1024)
