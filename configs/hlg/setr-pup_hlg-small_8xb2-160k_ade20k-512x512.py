# SETR-PUP-HLG-S on ADE20K, 160k iterations (HLG paper Tab. 5; multi-scale
# test: `tools/test.py ... --tta`). The paper states Swin's schedule for its
# HLG segmentation models; this is the official ADE20K config, which is that
# schedule (AdamW lr 6e-5, 1500 warm-up iterations, poly power 1, batch 16 =
# 8 GPUs x 2) with weight decay 0 instead of Swin's 0.01 and the heads'
# learning rate x10 (official config).
_base_ = [
    '../_base_/datasets/ade20k.py',
    '../_base_/runtimes/segmentation.py',
    '../_base_/schedules/adamw-warmup-poly_160k.py',
    '../_base_/models/hlg_setr_pup.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
    # official: slide 512 x 512 windows with stride 341
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
optim_wrapper = dict(
    optimizer=dict(weight_decay=0.),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
train_dataloader = dict(batch_size=2)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=16)
# the official config trains with unused parameters allowed
find_unused_parameters = True
