# SETR-Naive-Base: T-Base encoder (SETR/HLG paper Tab. 2: 12 layers, 768
# dims, 12 heads; ViT-B/16 ImageNet-21k), Cityscapes, 40k iterations, batch 8
# (paper Tab. 3; official SETR_Naive_Base_768x768_40k_cityscapes_bs_8.py).
_base_ = './setr_vit-l-naive_8xb1-40k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        # auxiliary heads on layers 3, 6, 9, main head on 12 (1-based;
        # official config: in_index 2, 5, 8 and 11)
        out_indices=(2, 5, 8, 11),
        # timm's jx_vit_base_p16_384 converted by mmseg's vit2mmseg.py
        init_cfg=dict(checkpoint='pretrain/vit_base_p16_384.pth')),
    decode_head=dict(in_channels=768),
    auxiliary_head=[
        dict(head, in_channels=768) for head in _base_.model.auxiliary_head
    ])
