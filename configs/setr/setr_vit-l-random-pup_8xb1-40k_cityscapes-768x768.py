# SETR-PUP with a randomly initialised T-Large encoder ("R" in SETR/HLG paper
# Tab. 3: 42.27 mIoU at 40k; Sec. 4.4 "Pre-training is critical"). Everything
# else as the pre-trained row; no official config exists for this row.
_base_ = './setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py'
model = dict(backbone=dict(init_cfg=None))
