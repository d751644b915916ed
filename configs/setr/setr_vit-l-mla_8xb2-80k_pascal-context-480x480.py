# SETR-MLA, T-Large (ViT-L/16, ImageNet-21k), Pascal Context (60 classes),
# 80k iterations, batch 16 (SETR/HLG paper Sec. 1; official
# SETR_MLA_480x480_80k_pascal_context_bs_16.py). Multi-scale + flip test:
# `tools/test.py ... --tta`.
_base_ = [
    '../_base_/setr_vit-l-mla.py', '../_base_/setr_pascal-context-480x480.py',
    '../_base_/runtimes/segmentation.py', '../_base_/setr_sgd-poly_80k.py'
]
crop_size = (480, 480)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),  # position embeddings at the crop
    decode_head=dict(num_classes=60),
    auxiliary_head=[
        dict(head, num_classes=60) for head in _base_.model.auxiliary_head
    ],
    # sliding-window test, stride 320 (official config)
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)))
# lr 0.001: official config (the paper gives none for Pascal Context)
optim_wrapper = dict(optimizer=dict(lr=0.001))
