# SETR-MLA-BEiT: T-Large encoder with BEiT-L/16 ImageNet-21k weights
# (SETR/HLG paper Tab. 3), on mmseg's BEiT; everything else as the ViT-L row
# (no official config exists for the BEiT rows). Multi-scale + flip test:
# `tools/test.py ... --tta`.
_base_ = [
    './setr_vit-l-mla_8xb1-40k_cityscapes-768x768.py',
    '../_base_/setr_beit-l.py'
]
crop_size = (768, 768)
model = dict(
    # BEiT's relative position bias is built for one window size, so test
    # images smaller than the crop (multi-scale test) are padded up to it
    data_preprocessor=dict(test_cfg=dict(size=crop_size)),
    backbone=dict(
        _delete_=True,
        img_size=crop_size,
        out_indices=_base_.model.backbone.out_indices,
        **_base_.setr_beit_large))
