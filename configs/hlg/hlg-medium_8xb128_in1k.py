# HLG-Medium on ImageNet-1k (HLG paper Tab. 7: 43.7 M; Tab. 1's depths
# (2, 2, 14, 2) give 39.9 M, and no depth gives 43.7 M exactly). The recipe of
# hlg-tiny_8xb128_in1k.py with drop path 0.1.
_base_ = './hlg-tiny_8xb128_in1k.py'
model = dict(
    backbone=dict(arch='medium', drop_path_rate=0.1),
    head=dict(in_channels=768))
