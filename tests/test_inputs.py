"""Every input accounted for (docs/errors.md rows 83-93): what a run leaves
out, lacks or would load wrong is named before its first iteration, or at
the sample, in the data-loader workers of the configs (2 persistent ones,
as the shipped configs have several), through the real runner."""
import json
import logging
import os
import os.path as osp
import re
import shlex

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmhvit.checks import (ConfigError, SampleError, check_coco_annotations,
                           check_dataset)
from mmhvit.checks.config import CfgOptionsAction
from mmhvit.checks.inventory import inventory_problems
from mmhvit.datasets import make_ade20k, make_cityscapes, make_coco
from helpers import (BACKBONE, COMMON, FAMILIES, FPN_HEADS, ROOT, SEG_CONFIG,
                     coco_file, det_config, run_tool_in_process, write)


def seg_config(tmp_path, data, extra='', family='hat_net', **settings):
    """A tiny Semantic FPN config of the shipped one, with the configs'
    data-loader workers, on ``data``."""
    settings = dict(dict(reduce_zero_label=True, num_classes=150), **settings)
    return write(tmp_path / 'seg.py', SEG_CONFIG.format(
        root=ROOT, base=FAMILIES[family]['seg'], data=data,
        backbone=BACKBONE.format(arch=FAMILIES[family]['arch']),
        heads=FAMILIES[family].get('seg_heads', FPN_HEADS), iters=2, lr=2e-3,
        ckpt_interval=2, common=COMMON, **settings) + extra)


def runner_of(config, tmp_path):
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    return Runner.from_cfg(cfg)


def train(config, tmp_path, error, match):
    """Train ``config`` with the plain runner; it must stop with ``error``
    matching ``match`` before its first iteration."""
    runner = runner_of(config, tmp_path)
    with pytest.raises(error, match=match):
        runner.train()
    assert runner.iter == 0


def load_all(config, key='train_dataloader'):
    """Every batch of the config's data loader, as the runner builds it
    (its workers, persistent)."""
    loader = Runner.build_dataloader(Config.fromfile(config)[key])
    assert loader.num_workers == 2 and loader.persistent_workers
    for _ in loader:
        pass


def preflight_log(config, tmp_path):
    """What ``PreflightCheckHook.before_train`` logs for ``config``."""
    runner = runner_of(config, tmp_path)
    hook, = [h for h in runner.hooks
             if type(h).__name__ == 'PreflightCheckHook']
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        hook.before_train(runner)
    finally:
        logger.removeHandler(handler)
    return [(r.levelname, r.getMessage()) for r in records]


@pytest.fixture
def ade(tmp_path):
    return make_ade20k(str(tmp_path / 'ade'), num_train=16, num_val=2,
                       size=(32, 32))


def test_files_left_out_by_suffix_case_are_named(tmp_path, ade):
    """8 of 16 images end in '.JPG': mmseg listed the 8 others and trained
    on them without a word."""
    folder = osp.join(ade, 'images', 'training')
    for i in range(2, 17, 2):
        path = osp.join(folder, f'ADE_train_{i:08d}.jpg')
        os.rename(path, path[:-4] + '.JPG')
    log = preflight_log(seg_config(tmp_path, ade), tmp_path)
    inventory = next(message for _, message in log
                     if message.startswith('Inventory of the train dataset'))
    assert 'found 16 image files, 16 label maps; uses 8 samples.' in inventory
    assert ("left out: 8 image files ending in '.JPG', not in img_suffix "
            "'.jpg' (its case differs), e.g. ['ADE_train_00000002.JPG'"
            ) in inventory
    assert ('WARNING', f'The train dataset ADE20KDataset ({folder}, {ade}/'
            'annotations/training) leaves out 50% of its image files (image '
            "files ending in '.JPG', not in img_suffix '.jpg' (its case "
            'differs)): to use them, change img_suffix (or rename the files '
            "to end in '.jpg'). (PreflightCheckHook warns above "
            'max_left_out=0.05.)') in log


@pytest.mark.slow
@pytest.mark.parametrize('split', ['training', 'validation'])
def test_missing_label_maps_stop_training_before_it_starts(
        tmp_path, ade, split):
    """A missing training label stopped at its sample (iteration 2), a
    missing validation label after all training, as a bare
    FileNotFoundError."""
    name = 'ADE_train_00000011' if split == 'training' else 'ADE_val_00000002'
    os.remove(osp.join(ade, 'annotations', split, name + '.png'))
    role = 'train' if split == 'training' else 'val'
    train(seg_config(tmp_path, ade), tmp_path, SampleError, re.escape(
        f'The {role} dataset ADE20KDataset ({ade}/images/{split}, {ade}/'
        f'annotations/{split}): images without their label map (mmseg would '
        f"fail at that sample): 1, e.g. ['{ade}/annotations/{split}/{name}"
        ".png']. Add the label maps, named as their image with "
        "seg_map_suffix '.png' in place of img_suffix '.jpg', or remove "
        'those images.'))


@pytest.mark.parametrize('edit,reason', [
    (dict(area=0), 'annotations of area 0 or less'),
    (dict(iscrowd=1), 'crowd regions (iscrowd=1)'),
    (dict(bbox=[1, 1, 0.5, 0.5]), 'annotations whose box is under 1 pixel'),
])
def test_coco_without_an_instance_to_train_on(tmp_path, edit, reason):
    """mmdet dropped them all and trained with loss_bbox = 0, rc 0."""
    data = make_coco(str(tmp_path / 'coco'), num_train=2, num_val=1,
                     size=(64, 64))
    ann_file = osp.join(data, 'annotations', 'instances_train2017.json')
    with open(ann_file) as f:
        content = json.load(f)
    for ann in content['annotations']:
        ann.update(edit)
    with open(ann_file, 'w') as f:
        json.dump(content, f)
    count = len(content['annotations'])
    train(det_config(tmp_path, data), tmp_path, SampleError, re.escape(
        f'The train dataset CheckedCocoDataset ({ann_file}) has no instance '
        f'to train on: of its {count} annotations, none is used. Left out: '
        f'{count} {reason}'))


@pytest.mark.parametrize('test_mode', [True, False])
def test_coco_images_without_annotations_are_used(tmp_path, test_mode):
    """An image without annotations that the dataset keeps (every image of
    a validation set; filter_empty_gt=False in training) is a background
    sample it uses: it was listed as left out ('samples with no instance to
    train on'), with a warning of 50% left out and the advice to change
    the annotations."""
    init_default_scope('mmdet')
    from mmhvit.datasets import CheckedCocoDataset
    path = coco_file(tmp_path)
    with open(path) as f:
        content = json.load(f)
    content['images'].append(dict(id=8, file_name='8.jpg', width=100,
                                  height=100))
    with open(path, 'w') as f:
        json.dump(content, f)
    dataset = CheckedCocoDataset(
        ann_file=path, data_prefix=dict(img=''), pipeline=[],
        metainfo=dict(classes=('person', )), test_mode=test_mode,
        filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == 2
    assert dataset.inventory.used == dict(samples=2, instances=1)
    assert inventory_problems(dataset.inventory, 'val', 0.05) == ([], [])


def test_coco_annotation_without_area(tmp_path):
    """mmdet's parser failed with a bare KeyError: 'area'."""
    path = coco_file(tmp_path)
    with open(path) as f:
        content = json.load(f)
    del content['annotations'][0]['area']
    with open(path, 'w') as f:
        json.dump(content, f)
    with pytest.raises(SampleError, match=re.escape(
            "image id 7: has no 'area' (mmdet's parser fails with KeyError")):
        check_coco_annotations(path)


@pytest.mark.slow
@pytest.mark.parametrize('role', ['train', 'val'])
def test_reduce_zero_label_of_loader_and_dataset_differ(tmp_path, ade,
                                                        role):
    """The training side failed at its first sample with 'Fix or remove the
    file' (the fix is the config), the validation side after training with
    mmseg's bare AssertionError."""
    extra = f"{role}_dataloader['dataset']['reduce_zero_label'] = False\n"
    loader = 'CheckedLoadSegAnnotations' if role == 'train' else \
        'LoadAnnotations'
    train(seg_config(tmp_path, ade, extra), tmp_path, ConfigError,
          re.escape(f'The {role} dataset ADE20KDataset has '
                    f'reduce_zero_label=False but its {loader} '
                    'reduce_zero_label=True: mmseg asserts they agree. Set '
                    f"the dataset's ({role}_dataloader.dataset."
                    'reduce_zero_label)'))


def ade_labels_with_zero(root):
    """ADE20K's stored values: 0 ('other') and classes up to 150."""
    for split in ('training', 'validation'):
        folder = osp.join(root, 'annotations', split)
        for name in os.listdir(folder):
            label = cv2.imread(osp.join(folder, name), cv2.IMREAD_UNCHANGED)
            label[:4], label[-4:] = 0, 150
            cv2.imwrite(osp.join(folder, name), label)


@pytest.mark.slow
@pytest.mark.parametrize('role', ['train', 'val'])
def test_labels_that_do_not_fit_reduce_zero_label(tmp_path, ade, role,
                                                  capsys, monkeypatch):
    """ADE20K's labels with reduce_zero_label off (loader and dataset): the
    training side failed at its first sample, the validation side after
    training; scan_labels.py, which read the training set only, passed."""
    ade_labels_with_zero(ade)
    extra = (f"{role}_dataloader['dataset'].update(reduce_zero_label=False, "
             "pipeline=[dict(t, reduce_zero_label=False) if "
             "'reduce_zero_label' in t else t for t in "
             f'{"pipeline" if role == "train" else "test_pipeline"}])\n')
    config = seg_config(tmp_path, ade, extra)
    train(config, tmp_path, ConfigError, re.escape(
        f'The label maps of the {role} dataset ADE20KDataset '
        '(reduce_zero_label=False, 150 classes), ') + r'\d+' + re.escape(
        ' of them read, do not fit its settings: value 150 ') + '.*' +
        re.escape(f'set reduce_zero_label=True. Set {role}_dataloader.'
                  'dataset.reduce_zero_label or'))
    with pytest.raises(SystemExit) as exit_info:
        run_tool_in_process(monkeypatch, 'misc/scan_labels.py', config)
    assert exit_info.value.code == 1
    errors = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith('ERROR')]
    assert errors[0].startswith('ERROR: value 150 ') and len(errors) == 1


def test_binary_masks_of_0_and_255_stop_training(tmp_path):
    """Binary masks saved as 0 / 255 with classes ('background',
    'foreground'): 255 is the ignore index, so the run trained and
    validated the background alone, rc 0 (scan_labels.py called it an
    error, the pre-flight check did not)."""
    init_default_scope('mmseg')
    from mmseg.datasets import BaseSegDataset
    label = np.zeros((32, 32), np.uint8)
    label[8:20, 8:20] = 255
    for folder in ('img', 'ann'):
        (tmp_path / folder).mkdir()
    for i in range(2):
        cv2.imwrite(str(tmp_path / 'img' / f'{i}.jpg'),
                    np.zeros((32, 32, 3), np.uint8))
        cv2.imwrite(str(tmp_path / 'ann' / f'{i}.png'), label)
    dataset = BaseSegDataset(
        data_root=str(tmp_path), pipeline=[],
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        metainfo=dict(classes=('background', 'foreground')))
    with pytest.raises(ConfigError, match=re.escape(
            'The label maps of the train dataset BaseSegDataset '
            '(reduce_zero_label=False, 2 classes), 2 of them read: only 0 '
            'and 255 occur: 255 is the ignore index, so the foreground is '
            'never learnt; store it as 1 (e.g. mask // 255)')):
        check_dataset(dataset, 'train')


def exif_jpeg(path, orientation):
    """Rewrite the JPEG ``path`` with an EXIF orientation tag."""
    from PIL import Image
    image = Image.open(path)
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, quality=95, exif=exif.tobytes())


@pytest.mark.parametrize('size', [(32, 32), (32, 48)])
def test_exif_orientation_of_an_image_with_a_label_map(tmp_path, size):
    """A square image was rotated on load and its label map not: trained
    misaligned, without a word (a non-square one failed the size check,
    whose message did not mention EXIF)."""
    data = make_ade20k(str(tmp_path / 'ade'), num_train=4, num_val=1,
                       size=size)
    path = osp.join(data, 'images', 'training', 'ADE_train_00000003.jpg')
    exif_jpeg(path, 6)
    with pytest.raises(SampleError, match=re.escape(
            f'Image {path} has EXIF orientation 6: the loader rotates it by '
            f'90 degrees, but not its label map {data}/annotations/training/'
            'ADE_train_00000003.png, so they no longer match.')):
        load_all(seg_config(tmp_path, data))


def test_12_bit_data_in_a_16_bit_png(tmp_path):
    """Divided by 256 on load: trained on values 0..16 (mean 9.8 for 164)
    without a word."""
    data = make_cityscapes(str(tmp_path / 'cs'), num_train=4, num_val=1,
                           size=(32, 64))
    folder = osp.join(data, 'leftImg8bit', 'train', 'aachen')
    path = osp.join(folder, sorted(os.listdir(folder))[1])
    image = cv2.imread(path)
    cv2.imwrite(path, image.astype(np.uint16) * 16)  # 12-bit data
    config = seg_config(tmp_path, data, family='hlg_upernet',
                        reduce_zero_label=False, num_classes=19)
    with pytest.raises(SampleError, match=re.escape(
            f'Image {path} is a 16-bit PNG whose values reach only '
            f'{int(image.max()) * 16} (12-bit data): the loader divides '
            '16-bit values by 256')):
        load_all(config)


def test_cfg_options_keep_spaces_and_the_advice_pastes(tmp_path,
                                                       monkeypatch):
    """mmengine deleted every space of a --cfg-options value, and the
    advice of a missing data_root could not work with a path with
    spaces."""
    missing = str(tmp_path / 'my data' / 'ade')
    with pytest.raises(FileNotFoundError) as error:
        run_tool_in_process(
            monkeypatch, 'train.py', seg_config(tmp_path, missing),
            '--cfg-options', f'train_dataloader.dataset.data_root={missing}')
    message = str(error.value)
    assert message.startswith('train_dataloader.dataset.data_root '
                              f"'{missing}' does not exist")
    advice = message[message.index('--cfg-options'):].rstrip('.')
    parser = __import__('argparse').ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    pasted = parser.parse_args(shlex.split(advice)).cfg_options
    assert pasted == {
        'train_dataloader.dataset.data_root': '/path/to/the data'}


def test_truncated_coco_file_is_named(tmp_path):
    """json's JSONDecodeError named neither the file nor the dataset."""
    data = make_coco(str(tmp_path / 'coco'), num_train=2, num_val=1,
                     size=(64, 64))
    ann_file = osp.join(data, 'annotations', 'instances_train2017.json')
    with open(ann_file) as f:
        text = f.read()
    with open(ann_file, 'w') as f:
        f.write(text[:1000])
    with pytest.raises(SampleError, match=re.escape(
            f'{ann_file} is not valid JSON: ') + '.*' + re.escape(
            ' of 1000, 1000 bytes). It ends before its brackets close: the '
            'file is cut short (copied or downloaded in part?).')):
        load_all(det_config(tmp_path, data))


def test_evaluator_without_its_ann_file(tmp_path, monkeypatch):
    """pycocotools' FileNotFoundError named no setting."""
    data = make_coco(str(tmp_path / 'coco'), num_train=1, num_val=1,
                     size=(64, 64))
    missing = f'{data}/annotations/instances_test.json'
    config = det_config(tmp_path, data, common=COMMON + (
        f"test_evaluator = dict(ann_file='{missing}')\n"))
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"test_evaluator.ann_file '{missing}' does not exist (working "
            'directory ') + '.*' + re.escape(
            'CocoMetric reads the ground truth from it.')):
        run_tool_in_process(monkeypatch, 'test.py', config,
                            str(tmp_path / 'none.pth'))
