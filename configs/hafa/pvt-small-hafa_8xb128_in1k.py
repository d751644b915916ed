_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

model = dict(backbone=dict(arch='small'))
