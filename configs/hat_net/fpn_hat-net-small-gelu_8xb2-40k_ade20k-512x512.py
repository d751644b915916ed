# HAT-Net-Small with GELU on ADE20K (HAT-Net Sec. 4.4: 45.7 mIoU against
# SiLU's 46.5): Semantic FPN with the recipe of Tab. 3, from the ImageNet run
# of hat-net-small-gelu_8xb128_in1k.py (the official weights are SiLU's).
_base_ = './fpn_hat-net-small_8xb2-40k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        act_cfg=dict(type='GELU'),
        init_cfg=dict(
            checkpoint='work_dirs/hat-net-small-gelu_8xb128_in1k/'
            'epoch_300.pth')))
