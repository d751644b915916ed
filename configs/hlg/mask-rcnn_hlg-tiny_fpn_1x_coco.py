# Mask R-CNN + HLG-T on COCO, 1x schedule (HLG paper Tab. 11, Sec. 4.2):
# AdamW lr 1e-4, weight decay 1e-4, batch 16 (8 GPUs x 2), 12 epochs,
# multi-scale training as in the RetinaNet configs. The official repository
# has only the model base (mmdet's Mask R-CNN FPN heads), no experiment
# config.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/runtimes/detection.py',
    '../_base_/schedules/adamw_1x.py',
    '../_base_/models/hlg_dense.py',
]
custom_imports = dict(
    imports=['mmhvit.models', 'mmhvit.apply_compat'],
    allow_failed_imports=False)

model = dict(
    backbone={
        **_base_.hlg_dense_backbone,
        '_delete_': True,
        'arch': 'tiny',
        'init_cfg': dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='pretrain/hlg_tiny.pth')
    },
    neck=dict(in_channels=[64, 128, 256, 512]))
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.))

train_pipeline = [
    dict(type='mmhvit.CheckedLoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, short) for short in range(640, 801, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
