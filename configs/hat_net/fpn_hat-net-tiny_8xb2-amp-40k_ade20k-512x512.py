# Mixed-precision training of Semantic FPN + HAT-Net-Tiny on ADE20K. The
# papers train in float32; this variant is for memory- or time-bound runs
# and has no paper result. float16 autocast with dynamic loss scaling
# (mmengine's AmpOptimWrapper, GPU only): attention runs through
# scaled_dot_product_attention, whose kernels keep the softmax in float32.
# For bfloat16 (Ampere or newer), add `dtype='bfloat16'`.
_base_ = './fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
