# Swin-T with HAFA on ImageNet-1k (HAFA Tab. 6), with HAFA's recipe (see
# pvt-tiny-hafa_8xb128_in1k.py) and Swin-T's stochastic depth 0.2.
_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmhvit.SwinHAFA',
        arch='tiny',
        out_indices=(3, ),
        drop_path_rate=0.2),
    head=dict(in_channels=768))
