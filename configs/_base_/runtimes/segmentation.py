# mmseg's runtime with mmhvit's safety hooks (./safety_hooks.py). mmseg's
# schedules define default_hooks, so mmhvit's segmentation schedules
# (../schedules/, ../setr_sgd-poly_*.py) select the atomic checkpoint hook.
_base_ = ['mmseg::_base_/default_runtime.py', './safety_hooks.py']
