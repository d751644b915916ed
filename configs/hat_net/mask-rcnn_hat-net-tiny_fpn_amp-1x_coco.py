# Mixed-precision training of Mask R-CNN + HAT-Net-Tiny on COCO (float16
# autocast, dynamic loss scaling; no paper result, the paper trains in
# float32). Attention softmax stays in float32 inside
# scaled_dot_product_attention.
_base_ = './mask-rcnn_hat-net-tiny_fpn_1x_coco.py'

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
