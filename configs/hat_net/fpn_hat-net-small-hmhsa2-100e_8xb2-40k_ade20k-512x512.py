# HAT-Net Tab. 5 mIoU, design 2: H-MHSA in stage 2: the Semantic FPN
# config of design 4 from the ImageNet run of
# hat-net-small-hmhsa2_8xb64-100e_in1k.py.
_base_ = './fpn_hat-net-small-100e_8xb2-40k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        window_only=(False, True, True, False),
        init_cfg=dict(
            checkpoint='work_dirs/hat-net-small-hmhsa2_8xb64-100e_in1k/'
            'epoch_100.pth')))
