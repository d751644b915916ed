# mmseg's ADE20K settings with mmhvit's checked loaders
# (mmhvit/datasets/transforms.py): an image or label map that cannot be read,
# a label map of another size than its image or with values outside the
# 150 classes stops training at that sample with an error naming the file, in
# every data-loader worker. Change num_classes here with the heads'.
_base_ = 'mmseg::_base_/datasets/ade20k.py'
checked_loaders = dict(
    LoadImageFromFile=dict(type='mmhvit.CheckedLoadImageFromFile'),
    LoadAnnotations=dict(
        type='mmhvit.CheckedLoadSegAnnotations', num_classes=150))
train_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
tta_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {})) for t in _base_.tta_pipeline
]
tta_pipeline[1]['transforms'] = [[
    dict(t, **checked_loaders.get(t['type'], {})) for t in group
] for group in _base_.tta_pipeline[1]['transforms']]
