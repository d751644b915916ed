_base_ = './fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'

checkpoint = 'https://github.com/yun-liu/HAT-Net/releases/download/v2.0/HAT-Net_Large.pth'  # noqa
model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint=checkpoint)),
    neck=dict(in_channels=[64, 128, 320, 640]))
