# Tab. 7 "grid-based" row (= Tab. 8 spatial-reduction attention): keys and
# values aggregated by strided convolutions (PVT's SRA, kernel = stride = 8,
# 4, 2) instead of clustering, single scale.
_base_ = './clustr-tiny_8xb128-100e_in1k.py'

model = dict(
    backbone=dict(
        reduction_ratios=((64, ), (16, ), (4, ), (1, )),
        kv_aggregation='grid'))
