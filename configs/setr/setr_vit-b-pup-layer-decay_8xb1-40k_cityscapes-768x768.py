# Not from the paper: SETR-PUP-Base on Cityscapes (the 40k row of Tab. 3,
# ./setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py) with layer-wise lr decay,
# as BEiT-style fine-tuning recipes use it, to show how to express one for a
# segmentor. mmhvit's constructor asks model.backbone.get_layer_depth for each
# parameter's depth d of L (patch embedding, position embedding and class
# token 0, layer i at i + 1, the rest and the heads L - 1: here L = 14) and
# scales its lr by layer_decay_rate ** (L - 1 - d), times the heads' lr_mult of
# 10 that the SETR schedules set (../_base_/setr_sgd-poly_40k.py).
_base_ = './setr_vit-b-pup_8xb1-40k_cityscapes-768x768.py'

optim_wrapper = dict(
    constructor='mmhvit.BackboneLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
