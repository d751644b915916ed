# COCO 1x schedule with AdamW, lr 1e-4, weight decay 1e-4: PVT's detection
# setting (PVT Sec. 5.3), which HAT-Net follows (HAT-Net Sec. 4.3: lr 1e-4,
# x0.1 after epochs 8 and 11, 12 epochs, batch 16). The 500-iteration linear
# warm-up comes from mmdet's 1x base.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, weight_decay=1e-4))
