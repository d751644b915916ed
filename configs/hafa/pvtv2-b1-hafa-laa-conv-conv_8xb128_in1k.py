# HAFA Sec. 4.4 on PVTv2-B1, second step of "we gradually replaced stage 3 and
# stage 2 with Conv2d layers": Tab. 4's second aggregation replaced too, LAA
# Conv Conv (-0.7 top-1 from LAA LAA SIA's 79.8; README).
_base_ = './pvtv2-b1-hafa_8xb128_in1k.py'

model = dict(backbone=dict(aggregations=('laa', 'conv', 'conv')))
