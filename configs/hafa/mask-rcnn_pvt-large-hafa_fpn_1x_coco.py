_base_ = './mask-rcnn_pvt-tiny-hafa_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dict(checkpoint='work_dirs/pvt-large-hafa_8xb128_in1k/'
                      'epoch_300.pth')))
