# SETR-PUP-HLG-M on ADE20K, 160k iterations (HLG paper Tab. 5: 61 M).
# Stage-3 depth 18: every dense count of HLG-M in the paper fits it (and
# none fits depth 14, that of the official ImageNet configs; README 'Depth of
# HLG-M/L'). pretrain/hlg_medium.pth is loaded as it is: a file of another
# depth is refused, naming both depths and the --cfg-options that builds
# the file's.
_base_ = './setr-pup_hlg-small_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='medium',
        depths=(2, 2, 18, 2),
        # 0.3 as the official Cityscapes and detection configs for M and L
        # (the official ADE20K ones inherit a base missing from the repo)
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')))
