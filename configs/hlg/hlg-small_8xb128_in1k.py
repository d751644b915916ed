# HLG-Small on ImageNet-1k (HLG paper Tab. 7): the recipe of
# hlg-tiny_8xb128_in1k.py with drop path 0.1.
_base_ = './hlg-tiny_8xb128_in1k.py'
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    head=dict(in_channels=768))
