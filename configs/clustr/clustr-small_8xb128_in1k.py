_base_ = './clustr-tiny_8xb128_in1k.py'

model = dict(backbone=dict(arch='small'))
