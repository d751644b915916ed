# Mixed-precision training of Mask R-CNN + PVT-Tiny with HAFA on COCO
# (float16 autocast, dynamic loss scaling; no paper result, the paper trains
# in float32). LAA's deformable sampling and SIA's DPC-KNN clustering run in
# float32 under autocast; attention softmax stays in float32 inside
# scaled_dot_product_attention.
_base_ = './mask-rcnn_pvt-tiny-hafa_fpn_1x_coco.py'

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
