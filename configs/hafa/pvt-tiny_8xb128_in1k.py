# PVT-Tiny without HAFA, the comparison row of HAFA Tab. 1 (mmdet's PVT).
_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

custom_imports = dict(
    imports=['mmdet.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.PyramidVisionTransformer',
        num_layers=[2, 2, 2, 2],
        out_indices=(3, ),
        drop_path_rate=0.1))
