# SETR-PUP-DeiT: T-Base encoder (SETR/HLG paper Tab. 2) with DeiT-B/16
# (distilled, 384) ImageNet-1k weights, ADE20K, 160k iterations, batch 16
# (paper Tabs. 4-5; official SETR_PUP_DeiT_512x512_160k_ade20k_bs_16.py).
# Multi-scale + flip test: `tools/test.py ... --tta`.
_base_ = './setr_vit-l-pup_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        # auxiliary heads on layers 5, 8, 10, 12, main head on 12 (1-based;
        # official config: in_index 4, 7, 9, 11)
        out_indices=(4, 7, 9, 11),
        # deit_base_distilled_patch16_384 converted by mmseg's vit2mmseg.py
        init_cfg=dict(
            checkpoint='pretrain/deit_base_distilled_patch16_384.pth')),
    decode_head=dict(in_channels=768),
    auxiliary_head=[
        dict(head, in_channels=768) for head in _base_.model.auxiliary_head
    ])
