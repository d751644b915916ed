# Not from the paper: HLG-Tiny on ImageNet-1k (hlg-tiny_8xb128_in1k.py) with
# layer-wise lr decay, as fine-tuning recipes (BEiT, ConvNeXt) use it, to show
# how to express one. mmpretrain's constructor asks the backbone's
# get_layer_depth for each parameter's depth d of L (stem 0, then one per
# block, neck and head L - 1: here 12 blocks, L = 14) and scales its lr by
# layer_decay_rate ** (L - 1 - d). Fine-tune from a checkpoint with
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...).
_base_ = './hlg-tiny_8xb128_in1k.py'

optim_wrapper = dict(
    constructor='mmpretrain.LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
