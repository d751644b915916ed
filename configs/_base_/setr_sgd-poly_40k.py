# SETR's optimiser (SETR/HLG paper Sec. 4.1 "Implementation details" and
# every official config): SGD with momentum 0.9 and weight decay 0, poly
# decay with power 0.9 down to 1e-4 by iteration (mmseg's 40k schedule), and
# a 10x learning rate for the decode and auxiliary heads (official
# `paramwise_cfg`; the key 'head' matches both). The MLA neck is not a
# 'head' here, as it was part of the official MLA backbone. The base learning
# rate is set by each config: the official ones differ per decoder and
# dataset.
_base_ = 'mmseg::_base_/schedules/schedule_40k.py'
optim_wrapper = dict(
    optimizer=dict(weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
# Checkpoints written atomically, rotated after the save, with the room
# checked first (mmhvit.AtomicCheckpointHook; mmengine's CheckpointHook
# otherwise).
default_hooks = dict(checkpoint=dict(type='mmhvit.AtomicCheckpointHook'))
