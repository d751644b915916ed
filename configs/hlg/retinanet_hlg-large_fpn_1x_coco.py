# RetinaNet + HLG-L on COCO, 1x schedule (HLG paper Tab. 10).
_base_ = './retinanet_hlg-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,  # official: 0.1 (S), 0.3 (M, L)
        init_cfg=dict(checkpoint='pretrain/hlg_large.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
