"""Building the models of configs and measuring them: parameters and MACs
at the papers' input sizes, for segmentation, detection and classification
configs alike."""
import os.path as osp
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
import yaml
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from .flops import count_macs

# The input sizes of the papers' tables: 224x224 ImageNet, 512x512 ADE20K,
# 768x768 Cityscapes (SETR/HLG Tab. 6), 800x1280 COCO (HAT-Net Tab. 4).
PAPER_SHAPES = {
    'mmpretrain': (224, 224),
    'mmseg': (512, 512),
    'mmdet': (800, 1280),
}


def default_shape(cfg: Config) -> Tuple[int, int]:
    """The paper's input size for ``cfg``'s task (and dataset)."""
    crop = cfg.get('crop_size')
    if cfg.default_scope == 'mmseg' and crop is not None:
        return tuple(crop)
    return PAPER_SHAPES[cfg.default_scope]


def build_from_config(config,
                      pretrained: bool = False) -> Tuple[nn.Module, Config]:
    """The model of a config file (or ``Config``), in eval mode, on the CPU.

    Without ``pretrained`` the backbone's ``init_cfg`` is dropped, so
    nothing is downloaded or read.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    registry = __import__(f'{cfg.default_scope}.registry',
                          fromlist=['MODELS']).MODELS
    if not pretrained:
        cfg.model.backbone.pop('init_cfg', None)
        cfg.model.pop('pretrained', None)
    return registry.build(cfg.model).eval(), cfg


def count_params(model: nn.Module, skip: Sequence[str] = ()) -> int:
    """Parameters of ``model`` except those under the prefixes ``skip``
    (e.g. ``('auxiliary_head',)``, heads used only in training)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if not name.startswith(tuple(skip)))


def _det_samples(batch: int, shape):
    from mmdet.structures import DetDataSample
    samples = []
    for _ in range(batch):
        sample = DetDataSample()
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape,
                                 pad_shape=shape, batch_input_shape=shape,
                                 scale_factor=(1., 1.)))
        samples.append(sample)
    return samples


def model_forward(model: nn.Module, scope: str, inputs: torch.Tensor):
    """The inference network of ``model`` on ``inputs`` (no pre- or
    post-processing): segmentor logits, detector head outputs (RPN
    proposals and RoI heads included), classifier logits."""
    samples = None
    if scope == 'mmdet':
        samples = _det_samples(inputs.shape[0], tuple(inputs.shape[2:]))
    return model(inputs, samples, mode='tensor')


def measure_config(config, shape: Optional[Tuple[int, int]] = None,
                   skip: Sequence[str] = ('auxiliary_head', ),
                   macs: bool = True, depth: int = 2) -> Dict:
    """Parameters (without ``skip`` heads) and, with ``macs``, the MACs of a
    config's model at ``shape`` (default: the paper's input size): whole,
    backbone and per module down to ``depth`` (``'<Model>.backbone'``...)."""
    model, cfg = build_from_config(config)
    shape = tuple(shape or default_shape(cfg))
    result = dict(params=count_params(model, skip), shape=shape,
                  backbone_params=count_params(model.backbone))
    if macs:
        inputs = torch.rand(1, 3, *shape)
        counted = count_macs(
            lambda: model_forward(model, cfg.default_scope, inputs), depth)
        result.update(
            macs=counted.total, macs_by_module=counted.by_module,
            backbone_macs=counted.by_module[f'{type(model).__name__}'
                                            '.backbone'])
    return result


#: PyYAML's safe loader, libyaml's where PyYAML has it (ten times faster).
SAFE_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def metafile_models(root: str) -> Iterator[Dict]:
    """Every model entry of the metafiles that ``root/model-index.yml``
    imports, with its ``Config`` path made absolute."""
    with open(osp.join(root, 'model-index.yml')) as f:
        metafiles = yaml.load(f, Loader=SAFE_LOADER)['Import']
    for metafile in metafiles:
        with open(osp.join(root, metafile)) as f:
            for model in yaml.load(f, Loader=SAFE_LOADER)['Models']:
                yield dict(model, Config=osp.join(root, model['Config']),
                           Metafile=metafile)


def set_metadata(metafile: str, name: str, fields: Dict) -> None:
    """Set ``fields`` (key -> number or string) at the end of the
    ``Metadata`` of the entry ``name`` of ``metafile`` (replacing those
    keys where present), editing only their lines, so comments and layout
    stay."""
    with open(metafile) as f:
        lines = f.read().splitlines(keepends=True)
    start = lines.index(f'- Name: {name}\n')
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith('- Name: ')), len(lines))
    meta = next(i for i in range(start, end)
                if lines[i].rstrip() == '  Metadata:')
    block = next((i for i in range(meta + 1, end)
                  if not lines[i].startswith('    ')), end)
    keys = tuple(f'    {key}:' for key in fields)
    kept = [line for line in lines[meta + 1:block]
            if not line.startswith(keys)]
    added = [f'    {key}: {value}\n' for key, value in fields.items()]
    lines[meta + 1:block] = kept + added
    with open(metafile, 'w') as f:
        f.writelines(lines)
