# Swin's UperNet schedule on ADE20K: AdamW, lr 6e-5, weight decay 0.01 (none
# on norms), linear warm-up over 1500 iterations, then poly decay (power 1) to
# 0 at 160k iterations; total batch 16.
_base_ = 'mmseg::_base_/schedules/schedule_160k.py'
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=6e-5,
        betas=(0.9, 0.999),
        weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]
# Checkpoints written atomically, rotated after the save, with the room
# checked first (mmhvit.AtomicCheckpointHook; mmengine's CheckpointHook
# otherwise).
default_hooks = dict(checkpoint=dict(type='mmhvit.AtomicCheckpointHook'))
