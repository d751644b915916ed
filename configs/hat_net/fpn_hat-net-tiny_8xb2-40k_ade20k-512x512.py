# Semantic FPN + HAT-Net-Tiny on ADE20K (HAT-Net Tab. 3, Sec. 4.2).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/adamw-poly_40k.py',
]
custom_imports = dict(imports=['mmhvit.models'], allow_failed_imports=False)

checkpoint = 'https://github.com/yun-liu/HAT-Net/releases/download/v2.0/HAT-Net_Tiny.pth'  # noqa
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmhvit.HATNet',
        arch='tiny',
        # G1 / G2 of dense prediction (Sec. 4.2); parameter-free.
        grid_sizes=(8, 8, 8, 1),
        pool_sizes=(16, 8, 4, 1),
        # Not stated; the paper follows PVT, whose dense backbones use 0.1.
        drop_path_rate=0.1,
        # The official ImageNet weights, converted while loading.
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 240, 384]),
    decode_head=dict(num_classes=150))

# 8 GPUs x 2 images = the paper's batch of 16.
train_dataloader = dict(batch_size=2)
