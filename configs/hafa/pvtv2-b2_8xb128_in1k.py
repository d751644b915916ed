_base_ = './pvtv2-b1_8xb128_in1k.py'

model = dict(backbone=dict(num_layers=[3, 4, 6, 3]))
