# HAT-Net-Tiny on ImageNet-1k (HAT-Net Tab. 2, Sec. 4.1): the DeiT recipe the
# paper states (AdamW lr 1e-3, weight decay 0.05, 8 GPUs x 128, cosine, 300
# epochs, mixup, label smoothing, 224 crops).
_base_ = '../_base_/imagenet_adamw_8xb128.py'

model = dict(
    backbone=dict(
        type='mmhvit.HATNet',
        arch='tiny',
        out_indices=(3, ),
        # Not in the paper; the official code follows PVT's training settings
        # (stochastic depth 0.1 for Tiny/Small, 0.3 for Medium/Large).
        drop_path_rate=0.1),
    head=dict(
        type='mmhvit.DropoutLinearClsHead',
        in_channels=384,
        dropout_rate=0.2))  # the official classifier's Dropout(0.2)
