# HAFA Tab. 4 / Sec. 4.4 ablation on PVTv2-B1: aggregation in front of stages
# 2, 3 and 4 = conv, laa, sia.
_base_ = './pvtv2-b1-hafa_8xb128_in1k.py'

model = dict(backbone=dict(aggregations=('conv', 'laa', 'sia')))
