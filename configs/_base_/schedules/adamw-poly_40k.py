# Semantic FPN schedule of PVT (Wang et al., ICCV 2021, Sec. 5.2), which
# HAT-Net follows (HAT-Net Sec. 4.2): AdamW, lr 1e-4, weight decay 1e-4,
# poly decay with power 0.9 to 0. HAT-Net does not state the length; PVT's is
# 40k iterations at a total batch of 16.
_base_ = 'mmseg::_base_/schedules/schedule_40k.py'
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=40000,
        by_epoch=False)
]
# Checkpoints written atomically, rotated after the save, with the room
# checked first (mmhvit.AtomicCheckpointHook; mmengine's CheckpointHook
# otherwise).
default_hooks = dict(checkpoint=dict(type='mmhvit.AtomicCheckpointHook'))
