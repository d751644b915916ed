# Tab. 9 single-scale "16, 4, 1, 1" mIoU row.
_base_ = './fpn_clustr-tiny_8xb2-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        reduction_ratios=((16, ), (4, ), (1, ), (1, )),
        init_cfg=dict(checkpoint='work_dirs/clustr-tiny-single-16_8xb128-'
                      '100e_in1k/epoch_100.pth')))
