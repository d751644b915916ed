# UperNet + ClusTR-S on ADE20K, 160k iterations (ClusTR Tab. 3, Sec. 4.2):
# Swin's settings, AdamW lr 6e-5, weight decay 0.01, 1500-iteration linear
# warm-up, batch 16 (8 GPUs x 2), 512x512 crops.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/runtimes/segmentation.py',
    '../_base_/schedules/adamw-warmup-poly_160k.py',
    '../_base_/models/clustr_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(_delete_=True, **_base_.clustr_dense_backbone),
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))
train_dataloader = dict(batch_size=2)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=16)
