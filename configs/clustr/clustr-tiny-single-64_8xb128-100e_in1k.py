# Tab. 9 single-scale row "64, 16, 4, 1" (= the "clustering" row of Tabs. 7
# and 8): one reduction ratio per stage.
_base_ = './clustr-tiny_8xb128-100e_in1k.py'

model = dict(backbone=dict(reduction_ratios=((64, ), (16, ), (4, ), (1, ))))
