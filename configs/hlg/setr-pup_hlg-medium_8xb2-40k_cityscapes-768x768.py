# SETR-PUP-HLG-M on Cityscapes, 40k iterations (HLG paper Tab. 6: 61 M).
# Stage-3 depth 18: every dense count of HLG-M in the paper fits it (and
# none fits depth 14, that of the official ImageNet configs; README 'Depth of
# HLG-M/L'). pretrain/hlg_medium.pth is loaded as it is: a file of another
# depth is refused, naming both depths and the --cfg-options that builds
# the file's.
_base_ = './setr-pup_hlg-small_8xb2-40k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        arch='medium',
        depths=(2, 2, 18, 2),
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')))
