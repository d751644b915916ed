# ClusTR as a dense-prediction backbone, shared by the configs of
# configs/clustr/ (a variable, not a `model`, so that it combines with the
# upstream model bases).
clustr_dense_backbone = dict(
    type='mmhvit.ClusTR',
    arch='small',
    # Not stated; PVTv2's dense configs, which the paper follows, use 0.1.
    drop_path_rate=0.1,
    # Exact DPC-KNN over the whole map. For 1333x800 inputs, windowed
    # clustering is far cheaper but changes the clusters, e.g.
    # clustering=dict(method='dpc_knn', k=5,
    #                 window_sizes=(64, 64, None, None)),
    # No official ClusTR weights are published: train the ImageNet config
    # first and point this to its checkpoint.
    init_cfg=dict(
        type='Pretrained',
        prefix='backbone.',
        checkpoint='work_dirs/clustr-small_8xb128_in1k/epoch_300.pth'))
