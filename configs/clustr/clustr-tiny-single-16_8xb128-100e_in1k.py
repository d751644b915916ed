# Tab. 9 single-scale row "16, 4, 1, 1".
_base_ = './clustr-tiny_8xb128-100e_in1k.py'

model = dict(backbone=dict(reduction_ratios=((16, ), (4, ), (1, ), (1, ))))
