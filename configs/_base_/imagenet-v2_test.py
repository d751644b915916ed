# ImageNet-V2 (Recht et al. 2019, matched frequency: 10 images for each of
# the 1000 classes) as a test set in mmpretrain's custom-dataset layout: the
# images under data/imagenetv2/ in one folder per class, named by the class
# index (0 ... 999, as the dataset is distributed), and an annotation file of
# "<folder>/<image> <class index>" lines, because mmpretrain would number
# folders in their sorted order (0, 1, 10, 100, ...). Write it once with
#   cd data/imagenetv2 && find . -name '*.jpeg' | sed 's|^\./||' \
#       | awk -F/ '{print $0, $1}' > meta.txt
# The configs that use this set it as their test_dataloader (a variable here:
# it replaces the ImageNet-1k one of their other base) with their own test
# pipeline.
imagenet_v2_test_dataloader = dict(
    batch_size=128,
    num_workers=5,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CustomDataset',
        data_root='data/imagenetv2',
        ann_file='meta.txt',
        data_prefix=''))
