# mmdet's COCO settings with mmhvit's checks: the annotation file is checked
# as the dataset reads it (mmhvit.CheckedCocoDataset, mmhvit/datasets/coco.py),
# and in training an image that cannot be read stops at that sample with an
# error naming the file, in every data-loader worker
# (mmhvit/datasets/transforms.py). The test pipeline keeps mmcv's loader, which
# the upstream inferencers look for and replace.
_base_ = 'mmdet::_base_/datasets/coco_instance.py'
# The data settings, each in one place; mmdet's pipelines (the base) use these
# values. A child config that changes them (its own data) ends with
# `apply_data_settings(globals())` (mmhvit/config_settings.py), which carries
# them into the pipelines, heads, datasets and evaluator
# (docs/custom_dataset.md).
num_classes = 80
scale = (1333, 800)  # resize of training and test
checked_loaders = dict(
    LoadImageFromFile=dict(type='mmhvit.CheckedLoadImageFromFile'))
train_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.train_pipeline
]
dataset_type = 'mmhvit.CheckedCocoDataset'
train_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
