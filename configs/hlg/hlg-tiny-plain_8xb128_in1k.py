# HLG paper Tab. 13, "plain+plain": HLG-T with plain local windows in every
# layer, no dilated ones (80.58 top-1; plain+dila 7, the paper's model,
# 81.11: hlg-tiny_8xb128_in1k.py). Same parameters (11.0 M).
_base_ = './hlg-tiny_8xb128_in1k.py'
model = dict(backbone=dict(dilated=False))
