_base_ = './pvt-tiny_8xb128_in1k.py'

model = dict(backbone=dict(num_layers=[3, 4, 6, 3]))
