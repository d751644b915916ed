# The ImageNet-1k recipe that HAT-Net (Sec. 4.1), ClusTR (Sec. 4.1) and HAFA
# (Sec. 4.1) share, DeiT's as PVT uses it: 224 crops, AdamW lr 1e-3 at a
# total batch of 1024 (8 GPUs x 128), weight decay 0.05 (none on norms and
# biases), 5 warm-up epochs then cosine decay over 300 epochs, label
# smoothing 0.1, mixup 0.8 and CutMix 1.0, RandAugment and random erasing.
# Family configs add the backbone and the head's input channels.
_base_ = [
    './datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    './runtimes/classification.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    # mmhvit's accepts the list outputs of mmdet's backbones (PVT, Swin)
    neck=dict(type='mmhvit.GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

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
