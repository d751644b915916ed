# UperNet + HLG-L on Cityscapes, 40k iterations (HLG paper Sec. 4.2).
# Stage-3 depth 18: every dense count of HLG-L in the paper fits it (and
# none fits depth 14, that of the official ImageNet configs; README 'Depth of
# HLG-M/L'). pretrain/hlg_large.pth is loaded as it is: a file of another
# depth is refused, naming both depths and the --cfg-options that builds
# the file's.
_base_ = './upernet_hlg-small_8xb1-40k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_large.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
