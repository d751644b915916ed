# Mask R-CNN + HLG-M on COCO, 1x schedule (HLG paper Tab. 11).
# Stage-3 depth 18: every dense count of HLG-M in the paper fits it (and
# none fits depth 14, that of the official ImageNet configs; README 'Depth of
# HLG-M/L'). pretrain/hlg_medium.pth is loaded as it is: a file of another
# depth is refused, naming both depths and the --cfg-options that builds
# the file's.
_base_ = './mask-rcnn_hlg-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='medium',
        depths=(2, 2, 18, 2),
        drop_path_rate=0.3,  # official: 0.1 (S), 0.3 (M, L)
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
