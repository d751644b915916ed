# mmdet's COCO settings with mmhvit's checks: the annotation file is checked
# as the dataset reads it (mmhvit.CheckedCocoDataset, mmhvit/datasets/coco.py),
# and an image that cannot be read stops training at that sample with an error
# naming the file, in every data-loader worker (mmhvit/datasets/transforms.py).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'
checked_loaders = dict(
    LoadImageFromFile=dict(type='mmhvit.CheckedLoadImageFromFile'))
train_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.test_pipeline
]
dataset_type = 'mmhvit.CheckedCocoDataset'
train_dataloader = dict(
    dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, pipeline=test_pipeline))
test_dataloader = val_dataloader
