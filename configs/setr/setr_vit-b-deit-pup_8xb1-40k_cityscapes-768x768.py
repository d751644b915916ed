# SETR-PUP-DeiT: T-Base encoder with DeiT-B/16 (distilled, 384) ImageNet-1k
# weights, Cityscapes, 40k iterations, batch 8 (SETR/HLG paper Tab. 3;
# official SETR_PUP_DeiT_768x768_40k_cityscapes_bs_8.py). The distillation
# token is not used (as in the official code).
_base_ = './setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        # deit_base_distilled_patch16_384 converted by mmseg's vit2mmseg.py
        init_cfg=dict(
            checkpoint='pretrain/deit_base_distilled_patch16_384.pth')))
