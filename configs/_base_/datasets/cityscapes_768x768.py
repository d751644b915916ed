# mmseg's Cityscapes (768x768 crops) settings with mmhvit's data checks
# (mmhvit/datasets/transforms.py), which run in every data-loader worker: in
# training, an image or label map that cannot be read, or a label map that is
# not a single-channel map of its image's size with values among the 19
# classes (or the ignore index), stops training at that sample with an error
# naming the file; test pipelines keep the upstream loaders (the upstream
# inferencers look for them) and check the labels before packing them.
_base_ = 'mmseg::_base_/datasets/cityscapes_768x768.py'
# The data settings, each in one place; mmseg's pipelines (the base) use these
# values. A child config that changes them (its own data) ends with
# `apply_data_settings(globals())` (mmhvit/config_settings.py), which carries
# them into the pipelines, heads, data preprocessor, datasets and evaluator
# (docs/custom_dataset.md).
num_classes = 19
reduce_zero_label = False  # the dataset class's default
scale = (2049, 1025)  # resize of training (before the random ratio) and test
# crop_size = (768, 768) (mmseg's base)
checked_loaders = dict(
    LoadImageFromFile=dict(type='mmhvit.CheckedLoadImageFromFile'),
    LoadAnnotations=dict(
        type='mmhvit.CheckedLoadSegAnnotations', num_classes=num_classes))
train_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.train_pipeline
]
label_check = dict(type='mmhvit.CheckSegLabels', num_classes=num_classes)
# before the last transform, PackSegInputs
test_pipeline = _base_.test_pipeline[:-1] + [
    label_check, _base_.test_pipeline[-1]
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# TestTimeAug's groups of alternatives; the check is a group of its own
tta_groups = _base_.tta_pipeline[1]['transforms']
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(
        _base_.tta_pipeline[1],
        transforms=tta_groups[:-1] + [[label_check], tta_groups[-1]])
]
# mmseg's IoUMetric whose per-class table lists only the classes the evaluated
# labels or predictions hold (mmhvit/evaluation/iou_metric.py; same metrics)
val_evaluator = dict(type='mmhvit.IoUMetric')
test_evaluator = val_evaluator
