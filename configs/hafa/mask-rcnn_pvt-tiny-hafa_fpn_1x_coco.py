# Mask R-CNN + PVT-Tiny with HAFA on COCO (HAFA Tab. 3, Sec. 4.3): AdamW lr
# 1e-4, weight decay 1e-4, 12 epochs, batch 16 (8 GPUs x 2).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/runtimes/detection.py',
    '../_base_/schedules/adamw_1x.py',
    '../_base_/models/pvt_hafa_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, **_base_.pvt_hafa_dense_backbone),
    neck=dict(in_channels=[64, 128, 320, 512]))
# LAA offsets at 1/100 of the lr, as for ImageNet.
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.offset.': dict(lr_mult=0.01)}))
