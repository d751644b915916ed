# Semantic FPN + PVT-Tiny with HAFA on ADE20K (HAFA Tab. 2, Sec. 4.2): AdamW
# lr 1e-4, poly 0.9, 40k iterations, batch 16 (8 GPUs x 2), 512x512 crops,
# test at short side 512; new layers Xavier-initialised (mmseg's FPN).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/runtimes/segmentation.py',
    '../_base_/schedules/adamw-poly_40k.py',
    '../_base_/models/pvt_hafa_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(_delete_=True, **_base_.pvt_hafa_dense_backbone),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))
train_dataloader = dict(batch_size=2)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=16)
# LAA offsets at 1/100 of the lr, as for ImageNet.
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.offset.': dict(lr_mult=0.01)}))
