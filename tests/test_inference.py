"""Inference on images: the upstream inferencers take mmhvit configs and
checkpoints as they are, and ``tools/misc/infer.py`` writes a PNG and a JSON
file per image for segmentation, detection and classification.

The checkpoints hold an initialised tiny model and the dataset's metainfo,
in mmengine's checkpoint format (``tests/test_docs.py`` runs ``infer.py`` on
a trained one).
"""
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmdet.apis import DetInferencer
from mmengine.config import Config
from mmengine.registry import DATASETS, MODELS, init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain.apis import ImageClassificationInferencer
from mmseg.apis import MMSegInferencer

from mmhvit.apis import (build_inferencer, check_checkpoint, collect_images,
                         infer_image, inference, load_inference_config)
from mmhvit.checks import SampleError
from mmhvit.datasets import SHAPE_CLASSES, make_ade20k, make_coco
from custom_data import (DET_TEST_PIPELINE, NUM_SHAPES, TINY_BACKBONE,
                         make_custom_cls, make_custom_det, write_tiny_config)
from helpers import ROOT, TINY_DET_HEADS, as_arguments, run_tool_in_process

# Children of the paper's ADE20K and COCO configs with a tiny model (the
# ADE20K one with its test pipeline as shipped, label check included)
SEG_CONFIG = f"""
_base_ = '{ROOT}/configs/hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py'
model = dict({TINY_BACKBONE}
    neck=dict(in_channels=[16, 32, 48, 64], out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=32))
"""
MASK_RCNN_CONFIG = f"""
_base_ = '{ROOT}/configs/hat_net/mask-rcnn_hat-net-tiny_fpn_1x_coco.py'
model = dict({TINY_BACKBONE}
    neck=dict(in_channels=[16, 32, 48, 64], out_channels=32),
    {as_arguments(TINY_DET_HEADS['mask-rcnn'])},
    test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=5)))
""" + DET_TEST_PIPELINE
UPSTREAM = dict(seg=MMSegInferencer, det=DetInferencer,
                mask_rcnn=DetInferencer, cls=ImageClassificationInferencer)


def save_initialised(config, checkpoint):
    """An mmengine checkpoint of the config's initialised model, with the
    test dataset's metainfo as ``meta.dataset_meta`` (as the runner saves
    it)."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset,
                                  lazy_init=True))
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dataset.metainfo)), checkpoint)
    return checkpoint


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """``{task: (config, checkpoint, image directory)}``: children of the
    paper's ADE20K and COCO configs and of the custom-dataset templates."""
    root = tmp_path_factory.mktemp('inference')
    ade = make_ade20k(str(root / 'ade'), num_train=0, num_val=2,
                      size=(64, 64))
    coco = make_coco(str(root / 'coco'), num_train=0, num_val=2,
                     size=(96, 96))
    det = make_custom_det(str(root / 'my_det_data'), num_train=0)
    cls = make_custom_cls(str(root / 'my_cls_data'), per_class=1)
    images = dict(seg=osp.join(ade, 'images', 'validation'),
                  mask_rcnn=osp.join(coco, 'val2017'),
                  det=osp.join(det, 'images', 'val'),
                  cls=osp.join(cls, 'val', 'circle'))
    configs = dict(seg=root / 'seg.py', mask_rcnn=root / 'mask_rcnn.py',
                   det=write_tiny_config(root, 'det'),
                   cls=write_tiny_config(root, 'cls'))
    configs['seg'].write_text(SEG_CONFIG)
    configs['mask_rcnn'].write_text(MASK_RCNN_CONFIG)
    return {
        task: (str(config),
               save_initialised(str(config), str(root / f'{task}.pth')),
               images[task])
        for task, config in configs.items()}


@pytest.mark.parametrize('task', list(UPSTREAM))
def test_upstream_inferencers_take_our_configs(tmp_path, models, task):
    """The upstream class, given our config and checkpoint paths; then
    :func:`infer_image` draws and stores its predictions."""
    config, checkpoint, images = models[task]
    # a fresh process has no default scope; other inferencers leave theirs
    init_default_scope(Config.fromfile(config).default_scope)
    weights = 'pretrained' if task == 'cls' else 'weights'
    inferencer = UPSTREAM[task](config, **{weights: checkpoint},
                                device='cpu')
    image = collect_images([images])[0]
    written = infer_image(inferencer, image, str(tmp_path), topk=2,
                          score_thr=0.0)

    with open(written['json']) as f:
        record = json.load(f)
    predictions = record['predictions']
    height, width = cv2.imread(image).shape[:2]
    drawn = cv2.imread(written['png'])
    if task == 'seg':  # checkpoint classes, label map of the image size
        assert record['classes'][:2] == ['wall', 'building']
        assert len(predictions['sem_seg']) == height
        assert sum(predictions['pixels'].values()) == height * width
        # input | overlay, both enlarged 4x to 256 px, | legend
        assert drawn.shape[1] > 2 * 4 * width
    elif task == 'cls':
        assert record['classes'] == list(SHAPE_CLASSES[:NUM_SHAPES])
        assert [t['class'] for t in predictions['topk']][0] == \
            predictions['pred_class']
        assert len(predictions['topk']) == 2
    else:
        if task == 'det':
            assert record['classes'] == list(SHAPE_CLASSES[:NUM_SHAPES])
        assert len(predictions['bboxes']) == len(predictions['scores']) > 0
        assert ('masks' in predictions) == (task == 'mask_rcnn')
    assert drawn.shape[0] >= 256  # small inputs are enlarged to be seen


@pytest.mark.parametrize('task', ['seg', 'det', 'cls'])
def test_infer_tool_writes_png_and_json_per_image(tmp_path, capsys, models,
                                                  task, monkeypatch):
    config, checkpoint, images = models[task]
    out = tmp_path / 'out'
    run_tool_in_process(monkeypatch, 'misc/infer.py', config, checkpoint,
                        images, '--out-dir', out, '--topk', 3,
                        '--score-thr', 0)
    stdout = capsys.readouterr().out
    stems = [osp.splitext(osp.basename(path))[0]
             for path in collect_images([images])]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f'{stem}{ext}' for stem in stems for ext in ('.json', '.png'))
    assert stdout.count(' -> ') == len(stems)
    if task == 'cls':
        assert 'top-3: ' in stdout


def test_an_image_without_detections_says_so(tmp_path, models):
    """Nothing above the score threshold: the PNG is not the bare image but
    carries a note (with the best score below the threshold)."""
    config, checkpoint, images = models['det']
    init_default_scope('mmdet')
    inferencer = DetInferencer(config, weights=checkpoint, device='cpu')
    image = collect_images([images])[0]
    bare = infer_image(inferencer, image, str(tmp_path / 'low'),
                       score_thr=0.0)
    none = infer_image(inferencer, image, str(tmp_path / 'high'),
                       score_thr=1.5)
    assert none['summary'].startswith('0 of ')
    bare, noted = cv2.imread(bare['png']), cv2.imread(none['png'])
    assert noted.shape[0] == bare.shape[0] + 28
    strip = noted[bare.shape[0]:]
    assert (strip[..., 2] > strip[..., 0] + 100).any()  # red text on white


def test_infer_tool_names_a_missing_checkpoint(tmp_path, capsys, models,
                                               monkeypatch):
    config, _, images = models['seg']
    with pytest.raises(SystemExit) as exit_info:
        run_tool_in_process(monkeypatch, 'misc/infer.py', config,
                            tmp_path / 'nowhere.pth', images)
    assert exit_info.value.code == 2
    assert f'checkpoint {tmp_path}/nowhere.pth does not exist' in \
        capsys.readouterr().err


def test_inputs_and_configs_are_checked(tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    with pytest.raises(ValueError, match=f'cannot read image {broken}'):
        collect_images([str(broken)])
    with pytest.raises(FileNotFoundError, match='input .*missing.jpg'):
        collect_images([str(tmp_path / 'missing.jpg')])
    with pytest.raises(FileNotFoundError, match='checkpoint .*none.pth'):
        check_checkpoint(str(tmp_path / 'none.pth'))
    config = tmp_path / 'pose.py'
    config.write_text("default_scope = 'mmpose'\nmodel = dict()\n")
    with pytest.raises(ValueError, match="default_scope 'mmpose'"):
        load_inference_config(str(config))


def test_shipped_configs_with_checked_loaders_infer(tmp_path, models):
    """The configs' test pipelines use mmhvit's checked loaders, which the
    upstream inferencers do not recognise ('LoadImageFromFile is not found
    in the test pipeline'); they get the upstream names back."""
    cfg = load_inference_config(
        f'{ROOT}/configs/hat_net/fpn_hat-net-tiny_8xb2-40k_ade20k-512x512.py')
    types = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    assert 'LoadImageFromFile' in types and 'LoadAnnotations' in types
    config, checkpoint, images = models['seg']
    checked = tmp_path / 'checked.py'
    checked.write_text(f"_base_ = '{config}'\n" + CHECKED_PIPELINE)
    inferencer = build_inferencer(str(checked), checkpoint, 'cpu')
    image = collect_images([images])[0]
    assert osp.isfile(infer_image(inferencer, image, str(tmp_path))['png'])


CHECKED_PIPELINE = """test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmhvit.CheckedLoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='mmhvit.CheckedLoadSegAnnotations', num_classes=150,
         reduce_zero_label=True),
    dict(type='PackSegInputs')]))
"""


def test_image_of_one_pixel_is_refused(tmp_path):
    """mmseg's visualiser failed with an IndexError."""
    path = str(tmp_path / 'dot.png')
    cv2.imwrite(path, np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(SampleError, match=re.escape(
            f'Image {path} is 1x1 pixels: images need at least 2 pixels a '
            'side.')):
        collect_images([path])


def test_image_too_large_for_the_free_memory(tmp_path, models, monkeypatch):
    """A 10000x10000 image: mmseg resizes the scores of 150 classes to it
    (60 GB) and failed after seconds with "can't allocate memory"; the
    estimate refuses it at once and names the --max-side that fits, which
    then predicts a downscaled copy."""
    config, checkpoint, images = models['seg']
    monkeypatch.setattr(inference, 'free_memory', lambda device: 16 << 30)
    inferencer = build_inferencer(config, checkpoint, 'cpu')
    with pytest.raises(MemoryError, match=re.escape(
            'big.png: predicting its 10000x10000 pixels at full resolution '
            'needs about 58.9 GB (mmseg resizes the scores of all 150 classes '
            'to the image), but cpu has 16.0 GB free. Pass --max-side 4608')):
        inference.check_memory(inferencer, (10000, 10000), 'big.png')
    image = collect_images([images])[0]  # 64x64: 2.5 MB
    monkeypatch.setattr(inference, 'free_memory', lambda device: 1 << 20)
    with pytest.raises(MemoryError, match='Pass --max-side 64 '):
        infer_image(inferencer, image, str(tmp_path))
    run_tool_in_process(monkeypatch, 'misc/infer.py', config, checkpoint,
                        image, '--out-dir', tmp_path, '--max-side', 32)
    with open(tmp_path / (osp.splitext(osp.basename(image))[0] + '.json')) \
            as f:
        record = json.load(f)
    assert record['size'] == [32, 32] and len(
        record['predictions']['sem_seg']) == 32


def test_checkpoint_of_another_number_of_classes_is_refused(tmp_path,
                                                            models):
    """Upstream loads it without a word, and predicted class indices beyond
    the names made mmdet's visualiser fail with an IndexError."""
    config, checkpoint, _ = models['seg']
    state = torch.load(checkpoint, weights_only=False)
    for key in ('decode_head.conv_seg.weight', 'decode_head.conv_seg.bias'):
        state['state_dict'][key] = state['state_dict'][key][:6]
    other = str(tmp_path / 'six_classes.pth')
    torch.save(state, other)
    with pytest.raises(RuntimeError, match=re.escape(
            f'{other} does not fit the model of the config: 2 tensors of '
            'other shapes (e.g. decode_head.conv_seg.weight: checkpoint (6, '
            '32, 1, 1), model (150, 32, 1, 1)')):
        build_inferencer(config, other, 'cpu')
