# SETR-PUP-HLG-M on Cityscapes, 40k iterations (HLG paper Tab. 6: 61 M);
# stage-3 depth 18, as the official Cityscapes config and the paper's dense
# parameter counts have it.
_base_ = './setr-pup_hlg-small_8xb2-40k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        arch='medium',
        depths=(2, 2, 18, 2),
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')))
