# PVT-Tiny without HAFA: the comparison row (mmdet's PVT, official weights).
_base_ = './mask-rcnn_pvt-tiny-hafa_fpn_1x_coco.py'

model = dict(backbone=dict(_delete_=True, **_base_.pvt_dense_backbone))
