# Pascal Context (60 classes, background included, as in the official
# configs) for SETR: mmseg's pipeline (random resize of (520, 520) by
# 0.5-2.0, 480x480 crops, flip, photometric distortion) with 8 GPUs x 2
# images = a batch of 16 (official config names `..._bs_16`).
_base_ = './datasets/pascal_context.py'
train_dataloader = dict(batch_size=2)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=16)

# Multi-scale + flip test (`tools/test.py --tta`): ratios 0.5-1.75 of the
# test scale (520, 520) with flip, as in the official `_MS` configs (and the
# paper's Sec. 4.1; only the official ADE20K `_MS` configs use
# [0.5, 0.75, 1.0]).
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=tuple(int(s * r) for s in _base_.scale),
                    keep_ratio=True) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations')],
            [
                dict(
                    type='mmhvit.CheckSegLabels',
                    num_classes=_base_.num_classes)
            ],
            [dict(type='PackSegInputs')],
        ])
]
