# SETR-MLA-BEiT: T-Large encoder with BEiT-L/16 ImageNet-21k weights
# (SETR/HLG paper Tabs. 4-5), on mmseg's BEiT; everything else as the ViT-L row
# (no official config exists for the BEiT rows). Multi-scale + flip test:
# `tools/test.py ... --tta`.
_base_ = [
    './setr_vit-l-mla_8xb2-160k_ade20k-512x512.py', '../_base_/setr_beit-l.py'
]
crop_size = (512, 512)
model = dict(
    # BEiT's relative position bias is built for one window size, so test
    # images smaller than the crop (multi-scale test) are padded up to it
    data_preprocessor=dict(test_cfg=dict(size=crop_size)),
    backbone=dict(
        _delete_=True,
        img_size=crop_size,
        out_indices=_base_.model.backbone.out_indices,
        **_base_.setr_beit_large))
