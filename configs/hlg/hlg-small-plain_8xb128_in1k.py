# HLG paper Tab. 14, "++ shared local": the step before HLG-S's plain and
# dilated hierarchy, i.e. HLG-S with plain local windows only (81.9 top-1,
# 24.2 M, 4.7 G; HLG-S itself, "+ plain+dilated", 82.3).
_base_ = './hlg-small_8xb128_in1k.py'
model = dict(backbone=dict(dilated=False))
