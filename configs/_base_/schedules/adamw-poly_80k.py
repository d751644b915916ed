# The Semantic FPN schedule of adamw-poly_40k.py (PVTv2's: AdamW, lr 1e-4,
# weight decay 1e-4, poly 0.9) run for 80k iterations.
_base_ = './adamw-poly_40k.py'
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=80000,
        by_epoch=False)
]
train_cfg = dict(max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
