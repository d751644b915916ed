# The Cityscapes test set, for the evaluation server (SETR/HLG paper Tab. 9):
# its 1525 images without labels, predicted at the validation scale. The
# configs that use it (as their test_dataloader and test_evaluator: these are
# variables here because they replace those of the configs' other base; each
# config adds its own output_dir) write mmseg's CityscapesMetric format-only
# output, the label-id PNGs to zip and submit at cityscapes-dataset.com
# (needs `pip install cityscapesscripts`).
cityscapes_test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CityscapesDataset',
        data_root='data/cityscapes/',
        data_prefix=dict(
            img_path='leftImg8bit/test', seg_map_path='gtFine/test'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(2049, 1025), keep_ratio=True),
            dict(type='PackSegInputs')
        ]))
cityscapes_test_evaluator = dict(
    type='CityscapesMetric', format_only=True, keep_results=True)
