# HAFA Sec. 4.4 on PVTv2-B1, first step of "we gradually replaced stage 3 and
# stage 2 with Conv2d layers": Tab. 4's third aggregation (the SIA) replaced
# by PVTv2's plain overlapping conv patch embedding, LAA LAA Conv (-0.5 top-1
# from LAA LAA SIA's 79.8). Stages are counted as in Tab. 4's columns, as in
# the paragraph's "first stage" / "second stage" just before (README).
_base_ = './pvtv2-b1-hafa_8xb128_in1k.py'

model = dict(backbone=dict(aggregations=('laa', 'laa', 'conv')))
