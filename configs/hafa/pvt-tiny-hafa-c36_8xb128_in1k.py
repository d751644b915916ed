# HAFA supplement Tab. 2: 36 SIA clusters (instead of 49 at 224x224).
_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

model = dict(backbone=dict(num_clusters=36))
