# Cityscapes for SETR: mmseg's 768x768 pipeline (random resize of
# (2049, 1025) by 0.5-2.0, 768x768 crops, flip, photometric distortion;
# SETR/HLG paper Sec. 4.1) with 8 GPUs x 1 image = the paper's batch of 8.
_base_ = './datasets/cityscapes_768x768.py'
train_dataloader = dict(batch_size=1)
# The paper's total batch, for which the lr is set (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=8)

# Multi-scale + flip test (`tools/test.py --tta`): ratios 0.5-1.75 of the
# test scale (2049, 1025) with flip, as in the official `_MS` configs (and the
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
