# RetinaNet + HLG-L on COCO, 1x schedule (HLG paper Tab. 10).
# Stage-3 depth 18: every dense count of HLG-L in the paper fits it (and
# none fits depth 14, that of the official ImageNet configs; README 'Depth of
# HLG-M/L'). pretrain/hlg_large.pth is loaded as it is: a file of another
# depth is refused, naming both depths and the --cfg-options that builds
# the file's.
_base_ = './retinanet_hlg-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,  # official: 0.1 (S), 0.3 (M, L)
        init_cfg=dict(checkpoint='pretrain/hlg_large.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
