# SETR-MLA with the T-Large encoder (SETR/HLG paper Tab. 2; ViT-L/16
# ImageNet-21k weights) on mmseg's modules, as in the official VIT_MLA +
# VIT_MLAHead: the class token is dropped after the position embedding;
# layers 6, 12, 18 and 24 (1-based; paper Sec. 3.4) = out_indices 5, 11, 17,
# 23 get a LayerNorm each; the neck (inside the official backbone) applies a
# 1x1 conv to 256 + SyncBN + ReLU per stream, adds the streams top-down and
# applies a 3x3 conv + SyncBN + ReLU; the head applies two 3x3 convs (256 ->
# 128 -> 128, SyncBN, ReLU) and x4 per stream, concatenates and classifies.
# Each stream thus has four convs where the paper's text describes three;
# we follow the official code. The classifier is a 3x3 conv (bias, padding
# 1) as in the official code (`cls`): mmhvit.SETRMLAHead is mmseg's head with
# that classifier instead of its 1x1 `conv_seg`, so official checkpoints
# convert completely. Where mmseg's modules still differ from the official
# ones: the x4 upsampling uses align_corners=False (official: True).
_base_ = 'mmseg::_base_/models/setr_mla.py'
# the configs inheriting this file (ViT-L/B, DeiT-B, BEiT-L MLA) get it too
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)
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
    # MLANeck returns its streams deepest first (layer 24, 18, 12, 6); taking
    # them in the order 6, 12, 18, 24 makes the head's streams and the
    # auxiliary heads line up with the official ones (head2..head5,
    # auxiliary_head.0..3), so converted official weights keep their order.
    decode_head=dict(
        type='mmhvit.SETRMLAHead', cls_kernel_size=3, in_index=(3, 2, 1, 0)),
    # auxiliary heads: a 1x1 classifier on each neck output, loss weight 0.4
    auxiliary_head=[
        dict(_base_.model.auxiliary_head[0], in_index=i) for i in (3, 2, 1, 0)
    ])
