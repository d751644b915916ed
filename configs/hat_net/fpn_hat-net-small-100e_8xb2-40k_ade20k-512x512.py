# HAT-Net Tab. 5 mIoU, design 4 (H-MHSA in stages 2-4): Semantic FPN on
# ADE20K with the recipe of Tab. 3, from the 100-epoch ImageNet run of
# hat-net-small_8xb64-100e_in1k.py (the ablations fine-tune their own
# ImageNet models; the paper does not say more).
_base_ = './fpn_hat-net-small_8xb2-40k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='work_dirs/hat-net-small_8xb64-100e_in1k/'
                      'epoch_100.pth')))
