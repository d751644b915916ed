"""Inference on images through the upstream inferencers.

mmseg's ``MMSegInferencer``, mmdet's ``DetInferencer`` and mmpretrain's
``ImageClassificationInferencer`` accept mmhvit configs and checkpoints as
they are (the configs' ``custom_imports`` registers the models). This module
only picks the inferencer that matches a config's ``default_scope`` and turns
its results into one PNG and one JSON file per image:

* segmentation: input | mask overlay, with a legend of the predicted classes
  and their share of the pixels;
* detection: boxes (and masks) with class names and scores;
* classification: the top-k classes and scores written on the image.

Before predicting, it estimates the memory the prediction of an image takes
at the image's own resolution (mmseg resizes the score of every class to it,
mmdet pastes every mask at it) and refuses, naming the size to downscale to,
when the device has less free.
"""
import contextlib
import importlib
import json
import math
import os
import os.path as osp
import tempfile
from collections import Counter

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmhvit.checks import check_tested, merge_cfg_options
from mmhvit.checks.samples import check_image
from mmhvit.visualization.predictions import (classification_picture,
                                              detection_picture, percent,
                                              segmentation_picture, write_rgb)

#: default_scope -> (task, upstream inferencer, its checkpoint argument)
INFERENCERS = {
    'mmseg': ('segmentation', 'mmseg.apis.MMSegInferencer', 'weights'),
    'mmdet': ('detection', 'mmdet.apis.DetInferencer', 'weights'),
    'mmpretrain': ('classification',
                   'mmpretrain.apis.ImageClassificationInferencer',
                   'pretrained'),
}
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: mmhvit's checked loaders -> the upstream ones, which the inferencers find
#: by name to replace them by their array loaders (or drop them)
UPSTREAM_LOADERS = {
    'mmhvit.CheckedLoadImageFromFile': 'LoadImageFromFile',
    'mmhvit.CheckedLoadSegAnnotations': 'LoadAnnotations',
}
#: share of the model's parameters the checkpoint must fill
MIN_CHECKPOINT_RATIO = 0.9
#: bytes per pixel the drawing takes (copies of the image as int64 / uint8)
DRAWING_BYTES = 32
MB, GB = 1 << 20, 1 << 30


def load_inference_config(config, cfg_options=None):
    """Load a config and check that an upstream inferencer serves it.

    Args:
        config (str): Config file path.
        cfg_options (dict, optional): Overrides, as ``--cfg-options`` gives.

    Returns:
        Config: The config.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        merge_cfg_options(cfg, cfg_options)
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get(
        'pipeline', [])
    for transform in pipeline:
        if transform.get('type') in UPSTREAM_LOADERS:
            transform['type'] = UPSTREAM_LOADERS[transform['type']]
            for name in ('num_classes', 'ignore_index'):
                transform.pop(name, None)
    scope = cfg.get('default_scope')
    if scope not in INFERENCERS:
        raise ValueError(
            f'{config}: default_scope {scope!r} has no inferencer here; '
            f'expected one of {", ".join(INFERENCERS)} (segmentation, '
            'detection, classification)')
    return cfg


def build_inferencer(cfg, checkpoint, device=None):
    """The upstream inferencer for ``cfg``'s task with ``checkpoint`` loaded.

    Args:
        cfg (Config | str): Config or config file path.
        checkpoint (str): Checkpoint path or URL.
        device (str, optional): ``'cpu'``, ``'cuda:0'``...; upstream's
            choice if None.

    Returns:
        The ``MMSegInferencer``, ``DetInferencer`` or
        ``ImageClassificationInferencer``.

    Raises:
        RuntimeError: the checkpoint fills too little of the config's model,
            or has tensors of other shapes (another config or
            ``num_classes``), which upstream loads without a word.
    """
    if isinstance(cfg, str):
        cfg = load_inference_config(cfg)
    check_checkpoint(checkpoint)
    _, class_path, weights_arg = INFERENCERS[cfg.default_scope]
    module, name = class_path.rsplit('.', 1)
    inferencer_class = getattr(importlib.import_module(module), name)
    # Upstream builds the test pipeline in the current default scope, which
    # an inferencer of another task may have left behind.
    init_default_scope(cfg.default_scope)
    inferencer = inferencer_class(
        cfg, **{weights_arg: checkpoint}, device=device)
    check_tested(inferencer.model, checkpoint, MIN_CHECKPOINT_RATIO,
                 'prediction')
    inferencer.show_progress = False  # one progress bar per image otherwise
    return inferencer


def check_checkpoint(checkpoint):
    """Raise ``FileNotFoundError`` for a local checkpoint that is missing."""
    is_url = checkpoint.startswith(('http://', 'https://'))
    if not is_url and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')


def collect_images(inputs):
    """Image files of ``inputs`` (files, or directories read non-recursively).

    Raises:
        FileNotFoundError: An input does not exist or a directory holds no
            image.
        ValueError: An image cannot be decoded, or two inputs share a file
            name stem (their outputs would collide).
        SampleError: An image is less than 2 pixels a side.
    """
    images = []
    for path in inputs:
        if osp.isdir(path):
            found = sorted(
                osp.join(path, name) for name in os.listdir(path)
                if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(f'no image files in {path}')
            images += found
        elif osp.isfile(path):
            images.append(path)
        else:
            raise FileNotFoundError(f'input {path} does not exist')
    for path in images:
        image = mmcv.imread(path)
        if image is None:
            raise ValueError(f'cannot read image {path}')
        check_image(image, path)
    stems = Counter(_stem(path) for path in images)
    clashes = sorted(stem for stem, number in stems.items() if number > 1)
    if clashes:
        raise ValueError(f'several inputs named {", ".join(clashes)}: their '
                         'outputs would overwrite each other')
    return images


def task_of(inferencer):
    """``'segmentation'``, ``'detection'`` or ``'classification'``."""
    names = {cls.__name__ for cls in type(inferencer).__mro__}
    for task, class_path, _ in INFERENCERS.values():
        if class_path.rsplit('.', 1)[1] in names:
            return task
    raise TypeError(f'{type(inferencer).__name__} is not an inferencer of '
                    'mmseg, mmdet or mmpretrain')


def class_names(inferencer):
    """The class names the inferencer's checkpoint was trained with."""
    if task_of(inferencer) == 'classification':
        return inferencer.classes
    return inferencer.model.dataset_meta.get('classes')


def infer_image(inferencer, path, out_dir, topk=5, score_thr=0.3,
                max_side=None):
    """Predict one image, write ``<stem>.png`` and ``<stem>.json``.

    Args:
        inferencer: From :func:`build_inferencer` (or built by hand).
        path (str): Image file.
        out_dir (str): Output directory.
        topk (int): Classes to draw for classification.
        score_thr (float): Lowest score of a drawn detection (the JSON keeps
            every prediction).
        max_side (int, optional): Predict a copy downscaled to this many
            pixels on its longer side when the image is larger (the outputs
            are then at that size).

    Returns:
        dict: ``png`` and ``json`` (the written files) and ``summary`` (one
        line: the classes found).

    Raises:
        MemoryError: when the prediction would take more memory than the
            device has free (:func:`check_memory`), before predicting.
    """
    os.makedirs(out_dir, exist_ok=True)
    png = osp.join(out_dir, _stem(path) + '.png')
    task = task_of(inferencer)
    with _downscaled(path, max_side) as (source, shape):
        check_memory(inferencer, shape, path)
        if task == 'segmentation':
            predictions, summary = _segment(inferencer, source, png)
        elif task == 'detection':
            predictions, summary = _detect(inferencer, source, png, score_thr)
        else:
            predictions, summary = _classify(inferencer, source, png, topk)
    record = dict(input=path, task=task, classes=class_names(inferencer),
                  size=list(shape), predictions=predictions)
    json_path = osp.join(out_dir, _stem(path) + '.json')
    with open(json_path, 'w') as f:
        json.dump(_to_json(record), f)
    return dict(png=png, json=json_path, summary=summary)


def check_memory(inferencer, shape, path):
    """Raise when predicting an image of ``shape`` (height, width) takes
    more memory than the model's device has free, naming the ``max_side``
    that fits.

    Raises:
        MemoryError: naming the image, both amounts and the fix.
    """
    device = next(inferencer.model.parameters()).device
    per_pixel, reason = _memory_per_pixel(inferencer)
    needed = int(shape[0]) * int(shape[1]) * per_pixel
    free = free_memory(device)
    if needed <= free:
        return
    side = max(64, int(max(shape) * math.sqrt(0.8 * free / needed)) // 64 *
               64)
    raise MemoryError(
        f'{path}: predicting its {shape[0]}x{shape[1]} pixels at full '
        f'resolution needs about {_amount(needed)} ({reason}), but '
        f'{device} has {_amount(free)} free. Pass --max-side {side} '
        f'(infer_image(max_side={side})) to predict a downscaled copy, or '
        'cut the image into tiles; sliding-window inference (test_cfg.mode='
        'slide) does not help, the scores are resized to the full image '
        'after it.')


def _memory_per_pixel(inferencer):
    """``(bytes, what takes them)`` per pixel of the input that predicting
    it takes at its resolution: mmseg's scores of every class resized to it
    (float32), mmdet's masks pasted at it (a byte each), and the copies of
    the image that drawing makes."""
    task = task_of(inferencer)
    if task == 'segmentation':
        classes = getattr(inferencer.model, 'num_classes', 0)
        return (DRAWING_BYTES + 4 * classes, f'mmseg resizes the scores of '
                f'all {classes} classes to the image')
    if task == 'detection' and getattr(inferencer.model, 'with_mask', False):
        masks = _max_instances(inferencer.cfg)
        return (DRAWING_BYTES + masks,
                f'mmdet pastes up to {masks} masks at the image size')
    return DRAWING_BYTES, 'copies of the image for drawing'


def free_memory(device):
    """Free bytes on ``device``: the GPU's, or the system's available
    memory (``MemAvailable`` of ``/proc/meminfo``; unbounded where there is
    no such file)."""
    if device.type == 'cuda':
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return math.inf


def _amount(size):
    return f'{size / GB:.1f} GB' if size >= GB else f'{size / MB:.1f} MB'


def _max_instances(cfg):
    test_cfg = cfg.model.get('test_cfg') or {}
    return (test_cfg.get('rcnn') or test_cfg).get('max_per_img', 100)


@contextlib.contextmanager
def _downscaled(path, max_side):
    """``(file to predict, its (height, width))``: ``path``, or a copy
    of it downscaled to ``max_side`` pixels on its longer side (a temporary
    PNG: the upstream inferencers handle files alike, arrays not)."""
    image = mmcv.imread(path)
    if not max_side or max(image.shape[:2]) <= max_side:
        yield path, image.shape[:2]
        return
    small = mmcv.imrescale(image, max_side / max(image.shape[:2]))
    with tempfile.TemporaryDirectory() as directory:
        copy = osp.join(directory, _stem(path) + '.png')
        mmcv.imwrite(small, copy)
        yield copy, small.shape[:2]


def _segment(inferencer, path, png):
    """Mask overlay next to the input, with a legend; label map as JSON."""
    result = inferencer(path, return_vis=True, with_labels=False,
                        opacity=0.5)
    sem_seg = result['predictions']  # (H, W) class indices
    meta = inferencer.visualizer.dataset_meta  # palette as drawn
    image = mmcv.imread(path, channel_order='rgb')
    picture, found = segmentation_picture(image, result['visualization'],
                                          sem_seg, meta['classes'],
                                          meta['palette'], path)
    write_rgb(png, picture)
    summary = ', '.join(f'{name} {100 * count / sem_seg.size:.1f}%'
                        for name, count in found)
    return dict(sem_seg=sem_seg, pixels=dict(found)), summary


def _detect(inferencer, path, png, score_thr):
    """Boxes and masks above ``score_thr`` drawn; all predictions as JSON."""
    sample = inferencer(path, return_datasamples=True)['predictions'][0]
    predictions = inferencer.pred2dict(sample)
    image = mmcv.imread(path, channel_order='rgb')
    picture, kept = detection_picture(inferencer.visualizer, image, sample,
                                      score_thr)
    write_rgb(png, picture)
    summary = (f'{len(kept)} of {len(predictions["labels"])} instances with '
               f'score >= {percent(score_thr)}: ' +
               ', '.join(f'{name} {percent(score)}'
                         for name, score in kept[:10]))
    return predictions, summary


def _classify(inferencer, path, png, topk):
    """The top-k classes and their scores beside the image; all scores as
    JSON."""
    classes = class_names(inferencer)
    sample = inferencer(path, return_datasamples=True)[0]
    scores, labels = sample.pred_score.topk(min(topk, len(sample.pred_score)))
    predictions = inferencer.postprocess([sample], None)[0]
    predictions['topk'] = [
        dict(label=int(label), score=float(score),
             **({'class': classes[int(label)]} if classes else {}))
        for label, score in zip(labels, scores)]
    names = [str(top.get('class', top['label']))
             for top in predictions['topk']]
    image = mmcv.imread(path, channel_order='rgb')
    write_rgb(png, classification_picture(image, names, scores))
    summary = f'top-{len(labels)}: ' + ', '.join(
        f'{name} {100 * top["score"]:.2f}%'
        for name, top in zip(names, predictions['topk']))
    return predictions, summary


def _stem(path):
    return osp.splitext(osp.basename(path))[0]


def _to_json(value):
    """numpy arrays, scalars and tuples as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    return value
