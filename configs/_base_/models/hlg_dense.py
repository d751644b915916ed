# HLG as a dense-prediction backbone, shared by the configs of configs/hlg/
# (a variable, not a `model`, so that it combines with the upstream model
# bases). Small by default; the other sizes override `arch` (and Medium its
# depths) in their configs.
hlg_dense_backbone = dict(
    type='mmhvit.HLG',
    arch='small',
    # Official dense configs: 0.1 for Small, 0.3 for Medium and Large (the
    # paper gives 0.1 / 0.3 for ImageNet only).
    drop_path_rate=0.1,
    # The official ImageNet weights (links in github.com/fudan-zvg/SETR,
    # hlg-classification), downloaded to pretrain/; mmhvit converts the
    # official layout while loading and logs what it loaded.
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='pretrain/hlg_small.pth'))
