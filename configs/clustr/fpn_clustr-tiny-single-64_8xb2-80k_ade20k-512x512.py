# Tab. 9 single-scale "64, 16, 4, 1" mIoU row.
_base_ = './fpn_clustr-tiny_8xb2-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        reduction_ratios=((64, ), (16, ), (4, ), (1, )),
        init_cfg=dict(checkpoint='work_dirs/clustr-tiny-single-64_8xb128-'
                      '100e_in1k/epoch_100.pth')))
