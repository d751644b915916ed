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
# the relative `_base_` path still resolves); the last line carries each
# setting to every pipeline, head, data preprocessor and dataset
# (mmhvit/config_settings.py). Any other segmentation config of mmhvit can
# be the `_base_`. Tutorial: docs/custom_dataset.md.
_base_ = '../../hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'
from mmhvit.config_settings import apply_data_settings  # noqa: E402

# ---- your data --------------------------------------------------------------
data_root = 'data/my_seg_data'
classes = ('background', 'circle', 'square', 'triangle')  # index order
palette = [[0, 0, 0], [220, 20, 60], [0, 128, 0], [0, 0, 255]]  # RGB each
img_suffix = '.jpg'
seg_map_suffix = '.png'
# True only when the files store class k as k + 1 and 0 means "unlabelled"
# (ADE20K's convention): 0 is then ignored and every value shifted down.
reduce_zero_label = False
scale = (2048, 512)  # resize (training: before the random ratio and crop)
crop_size = (512, 512)
# -----------------------------------------------------------------------------

# the layout above
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix))
val_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix))
test_dataloader = val_dataloader

apply_data_settings(globals())  # last line: applies the settings above
