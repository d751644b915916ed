# SETR-PUP-HLG-S on Cityscapes, 80k iterations (HLG paper Tab. 6: 37 M,
# 81.8 mIoU with multi-scale test, `tools/test.py ... --tta`): the 40k
# recipe (official config) trained twice as long.
_base_ = './setr-pup_hlg-small_8xb2-40k_cityscapes-768x768.py'
train_cfg = dict(max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
        end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=80000,
        by_epoch=False)
]
