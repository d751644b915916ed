# UperNet + HLG-M on Cityscapes, 40k iterations (HLG paper Sec. 4.2); stage-3
# depth 18 as in the official Medium dense configs.
_base_ = './upernet_hlg-small_8xb1-40k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        arch='medium',
        depths=(2, 2, 18, 2),
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_medium.pth')))
