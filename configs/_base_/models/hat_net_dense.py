# HAT-Net as a dense-prediction backbone, shared by the Semantic FPN,
# RetinaNet and Mask R-CNN configs of configs/hat_net/ (a variable, not a
# `model`, so that it combines with the upstream model bases).
hat_net_dense_backbone = dict(
    type='mmhvit.HATNet',
    arch='tiny',
    # G1 / G2 of segmentation and detection (Secs. 4.2, 4.3). They are
    # parameter-free, so the ImageNet weights trained with (8, 7, 7) /
    # (8, 4, 2) transfer.
    grid_sizes=(8, 8, 8, 1),
    pool_sizes=(16, 8, 4, 1),
    # Not stated; the paper follows PVT, whose dense backbones use 0.1.
    drop_path_rate=0.1,
    # The official ImageNet weights (GitHub release v2.0), converted to the
    # mmhvit layout while loading.
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='https://github.com/yun-liu/HAT-Net/releases/download/'
        'v2.0/HAT-Net_Tiny.pth'))
