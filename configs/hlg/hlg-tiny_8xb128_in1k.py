# HLG-T on ImageNet-1k (HLG paper Tab. 7, Sec. 4.2): 224 crops, AdamW lr 1e-3
# at batch 1024 (8 GPUs x 128), weight decay 0.05, cosine decay over 300
# epochs after a 20-epoch linear warm-up, mixup, drop path 0.1 (0.3 for
# Large). Augmentation is Swin's/DeiT's, as the paper states.
_base_ = '../_base_/imagenet_adamw_8xb128.py'

model = dict(
    backbone=dict(
        type='mmhvit.HLG', arch='tiny', out_indices=(3, ),
        drop_path_rate=0.1),
    head=dict(in_channels=512))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20)
]
