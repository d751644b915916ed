# mmpretrain's ImageNet settings (Swin's augmentation) with mmhvit's checked
# image loader in training (mmhvit/datasets/transforms.py): an image that
# cannot be read stops training at that sample with an error naming the file,
# in every data-loader worker. The test pipeline keeps mmcv's loader, which
# the upstream inferencers look for and replace.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'
checked_loaders = dict(
    LoadImageFromFile=dict(type='mmhvit.CheckedLoadImageFromFile'))
train_pipeline = [
    dict(t, **checked_loaders.get(t['type'], {}))
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
