# PVT with HAFA as a dense-prediction backbone, and plain PVT for the
# comparison rows, shared by the configs of configs/hafa/ (variables, not a
# `model`, so that they combine with the upstream model bases).
pvt_hafa_dense_backbone = dict(
    type='mmhvit.PVTHAFA',
    arch='tiny',
    # mmdet's PVT default, as in its PVT detection configs.
    drop_path_rate=0.1,
    # HAFA networks are trained from scratch on ImageNet (Sec. 4.1); no
    # weights are published: train the ImageNet config first.
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='work_dirs/pvt-tiny-hafa_8xb128_in1k/epoch_300.pth'))
pvt_dense_backbone = dict(
    type='mmdet.PyramidVisionTransformer',
    num_layers=[2, 2, 2, 2],
    # The official PVT ImageNet weights, converted by mmdet while loading.
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://github.com/whai362/PVT/releases/download/v2/'
        'pvt_tiny.pth'))
