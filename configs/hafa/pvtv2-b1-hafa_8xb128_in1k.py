# PVTv2-B1 with HAFA (HAFA Tab. 6; the backbone of the Tab. 4 ablation).
_base_ = './pvt-tiny-hafa_8xb128_in1k.py'

model = dict(backbone=dict(_delete_=True, type='mmhvit.PVTv2HAFA', arch='b1',
                           out_indices=(3, ), drop_path_rate=0.1))
