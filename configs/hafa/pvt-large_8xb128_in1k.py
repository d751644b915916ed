_base_ = './pvt-tiny_8xb128_in1k.py'

model = dict(backbone=dict(num_layers=[3, 8, 27, 3], drop_path_rate=0.3))
