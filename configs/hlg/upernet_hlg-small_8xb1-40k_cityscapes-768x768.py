# UperNet + HLG-S on Cityscapes, 768x768 crops, 40k iterations (HLG paper
# Sec. 4.2, "UperNet as a second framework", Swin's settings; no official
# config exists): Swin's UperNet optimiser (AdamW lr 6e-5, weight decay 0.01,
# none on norms, 1500 warm-up iterations, poly power 1) with the paper's
# Cityscapes batch of 8 (8 GPUs x 1) and 40k iterations.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    '../_base_/datasets/cityscapes_768x768.py',
    '../_base_/runtimes/segmentation.py',
    '../_base_/schedules/adamw-warmup-poly_40k.py',
    '../_base_/models/hlg_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

crop_size = (768, 768)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(_delete_=True, **_base_.hlg_dense_backbone),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=19),
    auxiliary_head=dict(in_channels=384, num_classes=19),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
train_dataloader = dict(batch_size=1)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=8)
