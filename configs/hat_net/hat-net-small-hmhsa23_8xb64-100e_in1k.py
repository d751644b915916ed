# HAT-Net Tab. 5, design 3: H-MHSA in the paper's stages 2 and 3, window
# attention in stage 4.
_base_ = './hat-net-small_8xb64-100e_in1k.py'

model = dict(backbone=dict(window_only=(False, False, True, False)))
