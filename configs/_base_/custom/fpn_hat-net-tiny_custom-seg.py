# Template: Semantic FPN + HAT-Net-Tiny (ImageNet weights) on your own
# semantic segmentation data, read by mmseg's BaseSegDataset:
#
#   data/my_seg_data/img_dir/{train,val}/NAME.jpg
#   data/my_seg_data/ann_dir/{train,val}/NAME.png
#
# Each NAME.png is a single-channel image of class indices 0..num_classes-1,
# 255 where the pixel is to be ignored (not a colour image, not 0/255 masks);
# `python tools/misc/scan_labels.py THIS_CONFIG` checks the files against the
# settings below. Edit the block below (in a copy next to this file, so that
# the relative `_base_` path still resolves); everything else follows from it.
# Tutorial: docs/custom_dataset.md.
_base_ = '../../hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'

# ---- your data --------------------------------------------------------------
data_root = 'data/my_seg_data'
classes = ('background', 'circle', 'square', 'triangle')  # index order
palette = [[0, 0, 0], [220, 20, 60], [0, 128, 0], [0, 0, 255]]  # RGB each
img_suffix = '.jpg'
seg_map_suffix = '.png'
# True only when the files store class k as k + 1 and 0 means "unlabelled"
# (ADE20K's convention): 0 is then ignored and every value shifted down.
reduce_zero_label = False
crop_size = (512, 512)
# -----------------------------------------------------------------------------

num_classes = len(classes)
metainfo = dict(classes=classes, palette=palette)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=num_classes))

# The label loaders follow the dataset's reduce_zero_label; every label map is
# checked against num_classes (mmhvit/datasets/transforms.py). The test
# pipeline keeps the upstream loaders, which the upstream inferencers replace.
train_pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(type='mmhvit.CheckedLoadSegAnnotations', num_classes=num_classes),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='mmhvit.CheckSegLabels', num_classes=num_classes),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
        reduce_zero_label=reduce_zero_label,
        metainfo=metainfo,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='img_dir/val', seg_map_path='ann_dir/val'),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
        reduce_zero_label=reduce_zero_label,
        metainfo=metainfo,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
