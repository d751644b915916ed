# Mixed-precision training of Semantic FPN + ClusTR-S on ADE20K (bfloat16
# autocast, Ampere or newer; no paper result, the paper trains in float32).
# DPC-KNN computes its distances, densities and assignments in float32 under
# autocast (cluster choices are discrete: a float16 distance can flip them),
# and attention softmax stays in float32 inside
# scaled_dot_product_attention. bfloat16 needs no loss scaling; mmengine's
# dynamic scaler is kept as a guard.
_base_ = './fpn_clustr-small_8xb2-80k_ade20k-512x512.py'

optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16',
                     loss_scale='dynamic')
