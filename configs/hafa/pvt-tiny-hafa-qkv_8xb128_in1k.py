# HAFA Tab. 5 "Q K V" row: SIA clusters queries, keys and values.
_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

model = dict(backbone=dict(sia_clustering='qkv'))
