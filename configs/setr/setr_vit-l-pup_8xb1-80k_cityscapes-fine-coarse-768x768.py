# SETR-PUP trained on the fine and the coarse annotations, on the Cityscapes
# test set (SETR/HLG paper Tab. 9, the row marked "trained on fine and coarse
# annotated data": 81.64 mIoU from the evaluation server). The 80k recipe on
# the 2975 fine and 19998 coarse training images (the paper gives no
# schedule for this row; 80k is its longest validation schedule). Coarse label
# maps: mmseg's tools/dataset_converters/cityscapes.py with --gt-dir gtCoarse
# writes the *_gtCoarse_labelTrainIds.png this reads. `tools/test.py` writes
# the server's PNGs to work_dirs/<config>/format_results. No official config
# exists for this row.
_base_ = [
    './setr_vit-l-pup_8xb1-80k_cityscapes-768x768.py',
    '../_base_/setr_cityscapes-test-server.py'
]
fine_train = _base_.train_dataloader.dataset
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            fine_train,
            dict(
                fine_train,
                data_prefix=dict(
                    img_path='leftImg8bit/train_extra',
                    seg_map_path='gtCoarse/train_extra'),
                seg_map_suffix='_gtCoarse_labelTrainIds.png')
        ]))
test_dataloader = dict(_base_.cityscapes_test_dataloader, _delete_=True)
test_evaluator = dict(
    _base_.cityscapes_test_evaluator,
    _delete_=True,
    output_dir='work_dirs/{{fileBasenameNoExtension}}/format_results')
