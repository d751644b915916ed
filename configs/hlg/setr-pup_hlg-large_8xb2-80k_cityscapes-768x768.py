# SETR-PUP-HLG-L on Cityscapes, 80k iterations (HLG paper Tab. 6: 100 M).
_base_ = './setr-pup_hlg-small_8xb2-80k_cityscapes-768x768.py'
model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='pretrain/hlg_large.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
