# Mask R-CNN + ClusTR-S on COCO, 1x schedule (ClusTR Tab. 4, Sec. 4.3): AdamW
# with PVTv2's detection settings (lr 1e-4, weight decay 1e-4), batch 16
# (8 GPUs x 2), short side 800, long side <= 1333.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/runtimes/detection.py',
    '../_base_/schedules/adamw_1x.py',
    '../_base_/models/clustr_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, **_base_.clustr_dense_backbone),
    neck=dict(in_channels=[64, 128, 256, 512]))
