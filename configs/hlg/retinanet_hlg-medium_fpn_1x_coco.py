# RetinaNet + HLG-M on COCO, 1x schedule (HLG paper Tab. 10).
# Stage-3 depth 14, as the official HLG-Medium ImageNet config and so its
# weights (pretrain/hlg_medium.pth), which this starts from: of a depth-18
# model they would fill 83 % (the loader stops below 90 %). The paper's dense
# counts for Medium fit depth 18 (metafile note).
_base_ = './retinanet_hlg-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='medium',
        drop_path_rate=0.3,  # official: 0.1 (S), 0.3 (M, L)
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
