# Mask R-CNN + HAT-Net-Tiny on COCO, 1x schedule (HAT-Net Tab. 4, Sec. 4.3).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmhvit.models'], allow_failed_imports=False)

checkpoint = 'https://github.com/yun-liu/HAT-Net/releases/download/v2.0/HAT-Net_Tiny.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhvit.HATNet',
        arch='tiny',
        # G1 / G2 of dense prediction (Sec. 4.3); parameter-free.
        grid_sizes=(8, 8, 8, 1),
        pool_sizes=(16, 8, 4, 1),
        # Not stated; the paper follows PVT, whose dense backbones use 0.1.
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    neck=dict(in_channels=[48, 96, 240, 384]))

# AdamW, lr 1e-4 (Sec. 4.3), weight decay 1e-4 as in PVT's detection setting
# that the paper follows; x0.1 at epochs 8 and 11 and the 500-iteration
# warm-up come from the 1x base. 8 GPUs x 2 images = batch 16.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=1e-4))
