_base_ = './retinanet_hat-net-tiny_fpn_1x_coco.py'

checkpoint = 'https://github.com/yun-liu/HAT-Net/releases/download/v2.0/HAT-Net_Small.pth'  # noqa
model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 320, 512]))
