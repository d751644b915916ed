# mmpretrain's runtime with mmhvit's safety hooks (./safety_hooks.py).
_base_ = ['mmpretrain::_base_/default_runtime.py', './safety_hooks.py']
# Checkpoints written atomically, rotated after the save, with the room
# checked first (mmhvit.AtomicCheckpointHook; mmengine's CheckpointHook
# otherwise).
default_hooks = dict(checkpoint=dict(type='mmhvit.AtomicCheckpointHook'))
