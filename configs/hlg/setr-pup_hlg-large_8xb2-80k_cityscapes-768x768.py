# SETR-PUP-HLG-L on Cityscapes, 80k iterations (HLG paper Tab. 6: 100 M).
# Stage-3 depth 18: every dense count of HLG-L in the paper fits it (and
# none fits depth 14, that of the official ImageNet configs; README 'Depth of
# HLG-M/L'). pretrain/hlg_large.pth is loaded as it is: a file of another
# depth is refused, naming both depths and the --cfg-options that builds
# the file's.
_base_ = './setr-pup_hlg-small_8xb2-80k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_large.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
