# Template: HAT-Net-Tiny image classification on your own images, one folder
# per class, read by mmpretrain's CustomDataset:
#
#   data/my_cls_data/train/CLASS_NAME/*.jpg
#   data/my_cls_data/val/CLASS_NAME/*.jpg
#
# Labels follow the sorted folder names, so list `classes` in that order.
# Edit the block below (in a copy next to this file, so that the relative
# `_base_` path still resolves). The model trains from scratch; to fine-tune,
# set `load_from` to an ImageNet checkpoint (its classifier is replaced).
# Tutorial: docs/custom_dataset.md.
_base_ = '../../hat_net/hat-net-tiny_8xb128_in1k.py'

# ---- your data --------------------------------------------------------------
data_root = 'data/my_cls_data'
classes = ('circle', 'square', 'triangle')  # sorted folder names
# -----------------------------------------------------------------------------

num_classes = len(classes)
model = dict(head=dict(num_classes=num_classes))
# Mixup / CutMix need the number of classes for their one-hot labels
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        metainfo=dict(classes=classes),
        pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        metainfo=dict(classes=classes),
        pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
# top-5 accuracy needs at least 5 classes
val_evaluator = dict(type='Accuracy', topk=(1, min(5, num_classes)))
test_evaluator = val_evaluator
