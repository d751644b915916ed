_base_ = './fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='work_dirs/pvt-small-hafa_8xb128_in1k/'
                      'epoch_300.pth')))
