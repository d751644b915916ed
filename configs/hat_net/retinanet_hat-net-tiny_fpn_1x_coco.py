# RetinaNet + HAT-Net-Tiny on COCO, 1x schedule (HAT-Net Tab. 4, Sec. 4.3);
# 8 GPUs x 2 images = the paper's batch of 16.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/runtimes/detection.py',
    '../_base_/schedules/adamw_1x.py',
    '../_base_/models/hat_net_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, **_base_.hat_net_dense_backbone),
    neck=dict(in_channels=[48, 96, 240, 384]))
