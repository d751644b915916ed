# SETR-MLA-DeiT: T-Base encoder (SETR/HLG paper Tab. 2) with DeiT-B/16
# (distilled, 384) ImageNet-1k weights, ADE20K, 160k iterations, batch 16
# (paper Tabs. 4-5; official SETR_MLA_DeiT_512x512_160k_ade20k_bs_16.py).
# Multi-scale + flip test: `tools/test.py ... --tta`.
_base_ = './setr_vit-l-mla_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        # streams from layers 3, 6, 9, 12 (1-based; official mla_index
        # (2, 5, 8, 11))
        out_indices=(2, 5, 8, 11),
        # deit_base_distilled_patch16_384 converted by mmseg's vit2mmseg.py
        init_cfg=dict(
            checkpoint='pretrain/deit_base_distilled_patch16_384.pth')),
    neck=dict(in_channels=[768, 768, 768, 768]))
