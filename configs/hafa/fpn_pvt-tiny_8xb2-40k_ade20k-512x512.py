# PVT-Tiny without HAFA: the comparison row (mmdet's PVT, official weights).
_base_ = './fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py'

model = dict(backbone=dict(_delete_=True, **_base_.pvt_dense_backbone))
