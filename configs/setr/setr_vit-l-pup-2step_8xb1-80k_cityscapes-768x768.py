# setr_vit-l-pup-2step_8xb1-40k_cityscapes-768x768.py with 80k iterations
# (SETR/HLG paper Tab. 3, 80k column: 78.58 mIoU).
_base_ = './setr_vit-l-pup-2step_8xb1-40k_cityscapes-768x768.py'
train_cfg = dict(max_iters=80000, val_interval=8000)
param_scheduler = [dict(_base_.param_scheduler[0], end=80000)]
default_hooks = dict(checkpoint=dict(interval=8000))
