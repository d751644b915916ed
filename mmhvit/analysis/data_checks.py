"""What mmhvit's data checks cost: the checked training pipeline of a
shipped dataset base against the same pipeline with the upstream loaders,
interleaved in one process, and the inventory of an ADE20K-sized folder
(what ``PreflightCheckHook`` lists before the first iteration).

Used by ``tools/analysis_tools/benchmark_data_checks.py``.
"""
import os
import os.path as osp
import random
import statistics
import time

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmhvit.checks.inventory import take_inventory
from mmhvit.datasets.synthetic import render_scene

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Dataset bases and the samples they are measured on: real sizes (H, W),
#: the real file formats, and the label values that make the range check
#: work hardest (ADE20K's 0 'other', which reduce_zero_label turns into the
#: ignore index; Cityscapes' ignore index itself).
DATASETS = dict(
    ade20k=dict(
        config='configs/_base_/datasets/ade20k.py', type='ADE20KDataset',
        shape=(512, 683), image='images/{}.jpg', label='labels/{}.png',
        offset=1, unlabelled=0),
    cityscapes=dict(
        config='configs/_base_/datasets/cityscapes_768x768.py',
        type='CityscapesDataset', shape=(1024, 2048),
        image='images/{}_leftImg8bit.png',
        label='labels/{}_gtFine_labelTrainIds.png', offset=0,
        unlabelled=255))
#: mmhvit's checked loaders -> the upstream ones they extend
UPSTREAM_LOADERS = {
    'mmhvit.CheckedLoadImageFromFile': 'LoadImageFromFile',
    'mmhvit.CheckedLoadSegAnnotations': 'LoadAnnotations',
}


def write_samples(root: str, name: str, count: int, seed: int = 0) -> str:
    """``count`` image / label pairs of the dataset ``name`` (a key of
    :data:`DATASETS`) under ``root``: rendered scenes whose label maps have
    a band of unlabelled pixels, as real maps do."""
    spec = DATASETS[name]
    height, width = spec['shape']
    for i in range(count):
        image, label, _ = render_scene(np.random.default_rng(seed + i),
                                       height, width, 4)
        label = (label + spec['offset']).astype(np.uint8)
        label[:height // 16] = spec['unlabelled']
        for key, array in (('image', image[..., ::-1]), ('label', label)):
            path = osp.join(root, spec[key].format(f'{i:05d}'))
            os.makedirs(osp.dirname(path), exist_ok=True)
            if not cv2.imwrite(path, np.ascontiguousarray(array)):
                raise OSError(f'could not write {path}')
    return root


def build_pipelines(name: str, root: str):
    """The training datasets of the base config of ``name`` over the
    samples under ``root``: ``(checked, upstream)``, the second with the
    upstream loaders in place of mmhvit's checked ones."""
    spec = DATASETS[name]
    cfg = Config.fromfile(osp.join(ROOT, spec['config']))
    init_default_scope('mmseg')
    from mmseg.registry import DATASETS as REGISTRY
    checked = cfg.train_dataloader.dataset.pipeline
    upstream = [
        dict({k: v for k, v in t.items() if k != 'num_classes'},
             type=UPSTREAM_LOADERS[t['type']])
        if t['type'] in UPSTREAM_LOADERS else t for t in checked
    ]
    suffixes = [spec[key].format('') for key in ('image', 'label')]
    return tuple(
        REGISTRY.build(dict(
            type=spec['type'], data_root=root,
            data_prefix=dict(img_path=osp.dirname(suffixes[0]),
                             seg_map_path=osp.dirname(suffixes[1])),
            img_suffix=osp.basename(suffixes[0]),
            seg_map_suffix=osp.basename(suffixes[1]), pipeline=pipeline))
        for pipeline in (checked, upstream))


def _pass(dataset, seed: int) -> float:
    """Seconds to run every sample of ``dataset`` through its pipeline,
    with the random transforms seeded alike for every pipeline."""
    random.seed(seed)
    np.random.seed(seed)
    start = time.perf_counter()
    for i in range(len(dataset)):
        dataset[i]
    return time.perf_counter() - start


def pipeline_ratio(checked, upstream, rounds: int = 5) -> dict:
    """Samples per second of ``checked`` over ``upstream``, measured in
    ``rounds`` interleaved pairs of passes (which goes first alternates),
    after a warm-up pass of each (page cache, lazy imports)."""
    _pass(checked, 0), _pass(upstream, 0)
    ratios, times = [], {'checked': [], 'upstream': []}
    for r in range(rounds):
        order = [('checked', checked), ('upstream', upstream)][::(-1) ** r]
        seconds = {key: _pass(dataset, r + 1) for key, dataset in order}
        for key, value in seconds.items():
            times[key].append(value / len(checked))
        ratios.append(seconds['upstream'] / seconds['checked'])
    return dict(ratio=statistics.median(ratios), ratios=ratios,
                ms_per_sample={key: 1000 * statistics.median(values)
                               for key, values in times.items()})


def inventory_seconds(root: str, count: int) -> dict:
    """Seconds mmseg takes to list an ADE20K training folder of ``count``
    images and as many label maps (empty files: the inventory reads names
    only), and the inventory of it takes."""
    for folder, suffix in (('images', '.jpg'), ('annotations', '.png')):
        os.makedirs(osp.join(root, folder), exist_ok=True)
        for i in range(count):
            open(osp.join(root, folder, f'ADE_train_{i:08d}{suffix}'),
                 'w').close()
    init_default_scope('mmseg')
    from mmseg.datasets import ADE20KDataset
    start = time.perf_counter()
    dataset = ADE20KDataset(
        data_root=root, pipeline=[],
        data_prefix=dict(img_path='images', seg_map_path='annotations'))
    listed = time.perf_counter()
    inventory = take_inventory(dataset)
    assert inventory.used['samples'] == count and not inventory.missing
    return dict(dataset=listed - start,
                inventory=time.perf_counter() - listed)
