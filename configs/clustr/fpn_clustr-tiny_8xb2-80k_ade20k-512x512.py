# Tab. 9 "multi-scale" mIoU row: Semantic FPN + ClusTR-T (from the 100-epoch
# ablation checkpoint).
_base_ = './fpn_clustr-small_8xb2-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='tiny',
        init_cfg=dict(checkpoint='work_dirs/clustr-tiny_8xb128-100e_in1k/'
                      'epoch_100.pth')))
