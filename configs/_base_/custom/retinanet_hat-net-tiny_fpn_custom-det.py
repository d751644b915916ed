# Template: RetinaNet + HAT-Net-Tiny (ImageNet weights) on your own object
# detection data in COCO format, read by mmdet's CocoDataset:
#
#   data/my_det_data/images/{train,val}/*.jpg
#   data/my_det_data/annotations/{train,val}.json
#
# The JSON files are COCO instance files ("images", "annotations" with
# "bbox" [x, y, w, h] in pixels, "categories"); the category "name"s must be
# the `classes` below: mmdet keeps only annotations of these names, labelled
# in this order. Edit the block below (in a copy next to this file, so that
# the relative `_base_` path still resolves); the last line carries each
# setting to every pipeline, head, dataset and evaluator
# (mmhvit/config_settings.py). For boxes and masks, make
# ../../hat_net/mask-rcnn_hat-net-tiny_fpn_1x_coco.py (or any other
# detection config of mmhvit) the `_base_`: its box and mask heads follow
# `classes` alike, and every annotation needs its "segmentation" (polygons or
# RLE). Tutorial: docs/custom_dataset.md.
_base_ = '../../hat_net/retinanet_hat-net-tiny_fpn_1x_coco.py'
from mmhvit.config_settings import apply_data_settings  # noqa: E402

# ---- your data --------------------------------------------------------------
data_root = 'data/my_det_data/'
classes = ('circle', 'square', 'triangle')
palette = [(220, 20, 60), (0, 128, 0), (0, 0, 255)]  # RGB per class
scale = (1333, 800)  # resize of training and test
# -----------------------------------------------------------------------------

# the layout above
train_dataloader = dict(
    dataset=dict(
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/')))
val_dataloader = dict(
    dataset=dict(
        ann_file='annotations/val.json', data_prefix=dict(img='images/val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

apply_data_settings(globals())  # last line: applies the settings above
