# SETR-PUP (100k) on the Cityscapes test set (SETR/HLG paper Tab. 9: 81.08
# mIoU from the evaluation server): the 40k recipe for 100k iterations on the
# fine train + val images (the paper does not say which images; train + val is
# the usual choice for a server submission and a one-line change back to
# train). `tools/test.py` writes the server's PNGs to
# work_dirs/<config>/format_results. No official config exists for this row.
_base_ = [
    './setr_vit-l-pup_8xb1-40k_cityscapes-768x768.py',
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
                    img_path='leftImg8bit/val', seg_map_path='gtFine/val'))
        ]))
train_cfg = dict(max_iters=100000, val_interval=10000)
param_scheduler = [dict(_base_.param_scheduler[0], end=100000)]
default_hooks = dict(checkpoint=dict(interval=10000))
test_dataloader = dict(_base_.cityscapes_test_dataloader, _delete_=True)
test_evaluator = dict(
    _base_.cityscapes_test_evaluator,
    _delete_=True,
    output_dir='work_dirs/{{fileBasenameNoExtension}}/format_results')
