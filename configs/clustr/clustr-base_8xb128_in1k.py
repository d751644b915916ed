_base_ = './clustr-tiny_8xb128_in1k.py'

# Stochastic depth not stated; PVTv2 uses 0.3 for its larger models.
model = dict(backbone=dict(arch='base', drop_path_rate=0.3))
