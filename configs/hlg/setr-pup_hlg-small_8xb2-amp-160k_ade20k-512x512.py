# Mixed-precision training of SETR-PUP-HLG-S on ADE20K (float16 autocast,
# dynamic loss scaling; no paper result, the paper trains in float32). The
# relative position biases are added to the attention logits inside
# scaled_dot_product_attention, whose softmax stays in float32.
_base_ = './setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py'

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
