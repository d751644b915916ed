# SETR-PUP-2step (SETR/HLG paper Tab. 3: "2 upsample layers", 308 M, 77.48 /
# 78.58 mIoU at 40k / 80k): the PUP decoder with one 3x3 conv + SyncBN + ReLU,
# x4, the 1x1 classifier and x4 to the input (the official
# VisionTransformerUpHead with num_conv=2, num_upsampe_layer=2). No official
# config exists; the paper's 308 M (307.82 M here) leaves no room for PUP's
# four auxiliary heads (317.3 M with them) nor for four 1x1 ones (+1.1 M), so
# the row is trained without auxiliary losses.
_base_ = './setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py'
model = dict(
    decode_head=dict(num_convs=1, up_scale=4),
    auxiliary_head=None)
