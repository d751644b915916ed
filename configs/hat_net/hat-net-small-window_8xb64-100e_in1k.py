# HAT-Net Tab. 5, design 1: window attention (H-MHSA's local step alone) in
# the paper's stages 2, 3 and 4 (our stages 0-2); stage 5 keeps plain MHSA.
_base_ = './hat-net-small_8xb64-100e_in1k.py'

model = dict(backbone=dict(window_only=(True, True, True, False)))
