# HLG paper Tab. 12, "DWConv" window embedding: HLG-T whose window tokens are
# a depth-wise R x R conv over each window instead of its average (81.14
# top-1; Avgpool, the paper's choice, 81.11: hlg-tiny_8xb128_in1k.py). The
# paper lists 11.0 M for both; the conv adds 0.1 M.
_base_ = './hlg-tiny_8xb128_in1k.py'
model = dict(backbone=dict(window_embedding='dwconv'))
