# RetinaNet + HLG-M on COCO, 1x schedule (HLG paper Tab. 10).
# Stage-3 depth 18 (official Medium detection configs use 14, but only 18
# gives the paper's 57.9 M / 67.3 M for Medium).
_base_ = './retinanet_hlg-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='medium',
        depths=(2, 2, 18, 2),
        drop_path_rate=0.3,  # official: 0.1 (S), 0.3 (M, L)
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
