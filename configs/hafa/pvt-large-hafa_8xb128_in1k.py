_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

# PVT's stochastic depth for its Medium and Large models.
model = dict(backbone=dict(arch='large', drop_path_rate=0.3))
