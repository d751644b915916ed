# PVTv2-B2 with HAFA (HAFA Tab. 6).
_base_ = './pvtv2-b1-hafa_8xb128_in1k.py'

model = dict(backbone=dict(arch='b2'))
