# HAT-Net Tab. 5, design 2: H-MHSA in the paper's stage 2 only, window
# attention in stages 3 and 4.
_base_ = './hat-net-small_8xb64-100e_in1k.py'

model = dict(backbone=dict(window_only=(False, True, True, False)))
