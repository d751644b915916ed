# SETR-Naive with the T-Large encoder (SETR/HLG paper Tab. 2: 24 layers, 1024
# dims, 16 heads; ViT-L/16 ImageNet-21k weights, Sec. 4.1 "Pre-training") on
# mmseg's modules. mmseg's base already matches the official decoder
# (VisionTransformerUpHead, num_conv=2, conv3x3_conv1x1=False): LayerNorm,
# 1x1 conv to 256 + SyncBN + ReLU, 1x1 classifier (paper Sec. 3.4), on the
# last layer; three identical auxiliary heads (loss weight 0.4) on layers 10,
# 15 and 20 (1-based; paper Sec. 4.1 "Auxiliary loss") = out_indices 9, 14,
# 19. Its upsampling is x4 after the first conv, then x4 to the input size
# (official: x16 at once after the classifier); its convs before BN have no
# bias (official: bias, folded into BN by the checkpoint converter).
_base_ = 'mmseg::_base_/models/setr_naive.py'
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
            type='Pretrained', checkpoint='pretrain/vit_large_p16.pth')))
