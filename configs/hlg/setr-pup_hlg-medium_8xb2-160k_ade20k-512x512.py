# SETR-PUP-HLG-M on ADE20K, 160k iterations (HLG paper Tab. 5: 61 M).
# Stage-3 depth 14, as the official HLG-Medium ImageNet config and so its
# weights (pretrain/hlg_medium.pth), which this starts from: of a depth-18
# model they would fill 83 % (the loader stops below 90 %). The paper's dense
# counts for Medium fit depth 18 (metafile note).
_base_ = './setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='medium',
        # 0.3 as the official Cityscapes and detection configs for M and L
        # (the official ADE20K ones inherit a base missing from the repo)
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')))
