# The BEiT-L/16 encoder of the paper's SETR-PUP-BEiT and SETR-MLA-BEiT rows
# (SETR/HLG paper Tabs. 3-5: T-Large, ImageNet-21k BEiT pre-training), built
# by mmseg's BEiT: relative position bias per layer, layer scale, no absolute
# position embedding, q/v biases. The official SETR code has no BEiT configs;
# the configs using this keep the SETR recipe of their ViT-L rows.
setr_beit_large = dict(
    type='BEiT',
    patch_size=16,
    embed_dims=1024,
    num_layers=24,
    num_heads=16,
    mlp_ratio=4,
    qv_bias=True,
    init_values=1e-6,  # mmseg's BEiT-L; loaded from the checkpoint anyway
    drop_path_rate=0.,  # as the SETR ViT rows
    norm_cfg=dict(type='LN', eps=1e-6),
    # beit_large_patch16_224_pt22k_ft22k converted by mmseg's beit2mmseg.py
    init_cfg=dict(
        type='Pretrained',
        checkpoint='pretrain/beit_large_patch16_224_pt22k_ft22k.pth'))
