# SETR-Naive without its auxiliary losses ("SETR-Naive-w.o.aux", SETR/HLG
# paper Tab. 3: 76.73 / 77.23 mIoU at 40k / 80k); the paper's 306 M counts the
# three 1x1 auxiliary heads it trains without, so this model has 305.73 M. No
# official config exists for this row.
_base_ = './setr_vit-l-naive_8xb1-40k_cityscapes-768x768.py'
model = dict(auxiliary_head=None)
