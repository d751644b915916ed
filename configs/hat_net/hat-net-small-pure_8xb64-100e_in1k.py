# HAT-Net Sec. 4.4, "a pure transformer version of HAT-Net": every
# depth-wise convolution removed (the MLPs become plain transformer MLPs;
# stem and downsampling convs stay), ablation setting (100 epochs): 77.7
# top-1 against PVT-Small's 75.8 (pvt-small_8xb64-100e_in1k.py).
_base_ = './hat-net-small_8xb64-100e_in1k.py'

model = dict(backbone=dict(ffn_dwconv=False))
