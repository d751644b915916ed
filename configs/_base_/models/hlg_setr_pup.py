# SETR-PUP-HLG (HLG paper Sec. 3.4, Tabs. 5-6): HLG-S, HLGUPHead (the four
# stage maps fused at 1/4, two HLG layers, x4 upsampling) and an FCN
# auxiliary head on stage 3 (official base config: 256 channels, one conv,
# loss weight 0.4). Datasets and schedules come from the configs.
_base_ = './hlg_dense.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(**_base_.hlg_dense_backbone),
    decode_head=dict(
        type='mmhvit.HLGUPHead',
        in_channels=[96, 192, 384, 768],
        in_index=[0, 1, 2, 3],
        channels=512,
        fuse_level=0,
        num_heads=16,
        window_size=8,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=384,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
