# Swin-T without HAFA, the comparison row of HAFA Tab. 6 (mmdet's Swin
# Transformer), trained with the same recipe.
_base_ = './swin-tiny-hafa_8xb128_in1k.py'

custom_imports = dict(
    imports=['mmdet.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.SwinTransformer',
        out_indices=(3, ),
        drop_path_rate=0.2))
