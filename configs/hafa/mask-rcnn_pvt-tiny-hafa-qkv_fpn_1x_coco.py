# HAFA Tab. 5 "Q K V" row: SIA clusters queries, keys and values.
_base_ = './mask-rcnn_pvt-tiny-hafa_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        sia_clustering='qkv',
        init_cfg=dict(checkpoint='work_dirs/pvt-tiny-hafa-qkv_8xb128_in1k/'
                      'epoch_300.pth')))
