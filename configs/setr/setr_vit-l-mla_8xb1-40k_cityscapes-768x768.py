# SETR-MLA, T-Large (ViT-L/16, ImageNet-21k), Cityscapes, 40k iterations, batch
# 8 (SETR/HLG paper Tab. 3; official config
# SETR_MLA_768x768_40k_cityscapes_bs_8.py).
# Multi-scale + flip test: `tools/test.py ... --tta`.
_base_ = [
    '../_base_/setr_vit-l-mla.py', '../_base_/setr_cityscapes-768x768.py',
    '../_base_/runtimes/segmentation.py', '../_base_/setr_sgd-poly_40k.py'
]
crop_size = (768, 768)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),  # position embeddings at the crop
    # sliding-window test, stride 512 (official config)
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
# lr 0.002: official config (the paper's text gives 0.01 for Cityscapes)
optim_wrapper = dict(optimizer=dict(lr=0.002))
