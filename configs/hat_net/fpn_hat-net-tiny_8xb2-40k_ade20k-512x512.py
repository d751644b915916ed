# Semantic FPN + HAT-Net-Tiny on ADE20K (HAT-Net Tab. 3, Sec. 4.2).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/runtimes/segmentation.py',
    '../_base_/schedules/adamw-poly_40k.py',
    '../_base_/models/hat_net_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(_delete_=True, **_base_.hat_net_dense_backbone),
    neck=dict(in_channels=[48, 96, 240, 384]),
    decode_head=dict(num_classes=150))

# 8 GPUs x 2 images = the paper's batch of 16.
train_dataloader = dict(batch_size=2)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=16)
