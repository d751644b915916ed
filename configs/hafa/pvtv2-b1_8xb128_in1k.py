# PVTv2-B1 without HAFA, the comparison row of HAFA Tab. 6 (mmdet's PVTv2).
_base_ = './pvt-tiny_8xb128_in1k.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.PyramidVisionTransformerV2',
        embed_dims=64,
        num_layers=[2, 2, 2, 2],
        out_indices=(3, ),
        drop_path_rate=0.1))
