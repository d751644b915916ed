# SETR-PUP with the T-Large encoder (SETR/HLG paper Tab. 2; ViT-L/16
# ImageNet-21k weights) on mmseg's modules. Decoder as in mmseg's base and the
# official VisionTransformerUpHead (num_conv=4, num_upsampe_layer=4): four
# 3x3 conv + SyncBN + ReLU + x2 steps, 1x1 classifier (paper Sec. 3.4,
# Fig. 1b). Auxiliary heads as in the official configs: FOUR heads on layers
# 10, 15, 20 and 24 (1-based; paper Sec. 4.1) = out_indices 9, 14, 19, 23,
# each 3x3 conv to 256 + SyncBN + ReLU + x4 + 1x1 classifier, loss weight
# 0.4. (mmseg's own SETR-PUP configs use three auxiliary heads with two 3x3
# convs each.)
_base_ = 'mmseg::_base_/models/setr_pup.py'
model = dict(
    pretrained=None,
    backbone=dict(
        # mmseg's ViT, attention through scaled_dot_product_attention: same
        # weights and outputs, no N x N attention kept for backward
        type='mmhvit.SDPAVisionTransformer',
        patch_bias=True,  # the official (timm) patch embedding has a bias
        drop_rate=0.,  # all official configs (the code default is 0.1)
        # timm's jx_vit_large_p16_384 converted by mmseg's vit2mmseg.py
        init_cfg=dict(
            type='Pretrained', checkpoint='pretrain/vit_large_p16.pth')),
    auxiliary_head=[
        dict(_base_.model.auxiliary_head[0], in_index=i) for i in range(4)
    ])
