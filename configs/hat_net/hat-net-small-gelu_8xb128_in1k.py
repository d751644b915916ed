# HAT-Net-Small with GELU instead of SiLU (HAT-Net Sec. 4.4: 82.7 top-1 at
# 300 epochs against SiLU's 82.6), the full ImageNet recipe.
_base_ = './hat-net-small_8xb128_in1k.py'

model = dict(backbone=dict(act_cfg=dict(type='GELU')))
