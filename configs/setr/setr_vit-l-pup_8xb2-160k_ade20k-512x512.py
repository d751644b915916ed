# SETR-PUP, T-Large (ViT-L/16, ImageNet-21k), ADE20K, 160k iterations, batch 16
# (SETR/HLG paper Tabs. 4-5; official config
# SETR_PUP_512x512_160k_ade20k_bs_16.py).
# Multi-scale + flip test: `tools/test.py ... --tta`, with ratios 0.5-1.75 of
# (2048, 512) as the official SETR_PUP_512x512_160k_ade20k_bs_16_MS.py and the
# paper's text (the official Naive and MLA ADE20K configs use 0.5-1.0).
_base_ = [
    '../_base_/setr_vit-l-pup.py', '../_base_/setr_ade20k-512x512.py',
    '../_base_/runtimes/segmentation.py', '../_base_/setr_sgd-poly_160k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),  # position embeddings at the crop
    decode_head=dict(num_classes=150),
    auxiliary_head=[
        dict(head, num_classes=150) for head in _base_.model.auxiliary_head
    ],
    # sliding-window test, stride 341 (official config)
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
# lr 0.001: official config and paper Sec. 4.1
optim_wrapper = dict(optimizer=dict(lr=0.001))
tta_pipeline = _base_.tta_pipeline
tta_pipeline[1]['transforms'][0] = [
    dict(type='Resize', scale=(int(2048 * r), int(512 * r)), keep_ratio=True)
    for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
]
