"""Checks of a model: its constructor arguments when it is built, its
config's consistency before the first iteration, and what only the first
forward pass reveals.

Mistakes in a hand-edited config should stop a run before (or, for what
only the first forward pass reveals, at the start of) the first iteration,
with a message that names the setting to change, instead of a CUDA assert
or a shape error from inside a tensor op:

* :func:`resolve_arch`, :func:`check_per_stage`, :func:`check_out_indices`,
  :func:`check_frozen_stages`, :func:`check_init_cfg`: the arguments of
  mmhvit's backbones, as they are built.
* :func:`check_num_classes`: every head (decode, auxiliary, RetinaNet,
  ROI box and mask, classifier) and the dataset agree on the classes.
* :func:`check_data_preprocessor`: a normalisation that divides by zero
  or is not finite.
* :func:`check_checkpointing_under_ddp`: ``with_cp`` of upstream blocks
  (torch's reentrant checkpointing) under DDP with
  ``find_unused_parameters=True``, which fails at the first backward.
* :func:`install_forward_checks`: forward hooks that compare the channels
  the backbone and neck hand on with the ``in_channels`` of the neck and
  heads (the backbone's widths are only known once it has run), before
  those run, and reject inputs smaller than the total stride of a backbone
  that needs that much.
"""
import inspect
import math
import re
from functools import partial
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn

from mmhvit.utils import ConfigError

#: Default share of a module's parameters a ``Pretrained`` load must fill.
MIN_LOADED_RATIO = 0.9


def resolve_arch(arch: Union[str, Dict], arch_zoo: Dict[str, Dict],
                 model_name: str) -> Dict:
    """errors.md rows 1 and 2: the settings of ``arch``, a name of
    ``arch_zoo`` or a dict with the keys of the zoo's entries.

    Raises:
        ValueError: on an unknown name or a dict missing required keys.
    """
    required_keys = next(iter(arch_zoo.values())).keys()
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(
                f'Unknown {model_name} arch {arch!r}; choose one of '
                f'{sorted(arch_zoo)} or pass a dict with keys '
                f'{sorted(required_keys)}.')
        return dict(arch_zoo[key])
    if not isinstance(arch, dict):
        raise TypeError(f'{model_name} arch must be a str or a dict, '
                        f'got {type(arch).__name__}.')
    missing = set(required_keys) - set(arch)
    if missing:
        raise ValueError(f'Custom {model_name} arch misses keys '
                         f'{sorted(missing)}.')
    return dict(arch)


def check_per_stage(name: str, values: Sequence, num_stages: int) -> List:
    """errors.md row 3: a per-stage setting has one entry per stage."""
    values = list(values)
    if len(values) != num_stages:
        raise ValueError(f'{name} needs one value per stage ({num_stages}), '
                         f'got {values}.')
    return values


def check_out_indices(out_indices, num_stages: int) -> tuple:
    """errors.md row 4: ``out_indices`` as non-negative stage indices,
    checked."""
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    indices = []
    for index in out_indices:
        if not -num_stages <= index < num_stages:
            raise ValueError(
                f'out_indices {tuple(out_indices)} out of range: this '
                f'backbone has {num_stages} stages (0..{num_stages - 1}).')
        indices.append(index % num_stages)
    return tuple(indices)


def _indices_under(keys, prefix: str) -> set:
    """Indices ``i`` of the keys ``<prefix>.<i>.<...>``."""
    pattern = re.compile(re.escape(prefix) + r'\.(\d+)\.')
    return {int(m.group(1)) for m in map(pattern.match, keys) if m}


def block_count_mismatches(module: nn.Module, keys) -> List[tuple]:
    """``(list name, entries in keys, entries in the module)`` for each
    ``ModuleList`` of ``module`` whose numbered entries with tensors
    differ between the checkpoint ``keys`` and the module's own."""
    own = list(module.state_dict())
    keys = list(keys)
    mismatches = []
    for name, child in module.named_modules():
        if isinstance(child, nn.ModuleList) and name:
            theirs = _indices_under(keys, name)
            ours = _indices_under(own, name)
            if theirs and ours and theirs != ours:
                mismatches.append((name, len(theirs), len(ours)))
    return mismatches


def check_block_counts(module: nn.Module, keys, filename: str) -> None:
    """errors.md row 100: a checkpoint with more or fewer blocks in a
    stage than the model (the extra ones would be dropped with a log line,
    the missing ones keep their initial values) is refused, naming both
    and, for a backbone built from ``depths``, the setting that builds the
    checkpoint's.

    Raises:
        ConfigError: naming each list of blocks that differs.
    """
    mismatches = block_count_mismatches(module, keys)
    if not mismatches:
        return
    name = type(module).__name__
    lists = ', '.join(f'{path}: {theirs} in the checkpoint, {ours} in the '
                      'model' for path, theirs, ours in mismatches)
    message = (f'{filename} does not have the blocks of {name} ({lists}): '
               'it is a checkpoint of a model of other depths.')
    raise ConfigError(message + _depths_hint(module, mismatches))


def _depths_hint(module: nn.Module, mismatches) -> str:
    """The ``depths`` setting of the checkpoint's model, for a backbone (or
    a model's ``backbone``) built from ``depths``; else ''."""
    backbone, prefix = module, ''
    if not hasattr(module, 'depths') and hasattr(module, 'backbone'):
        backbone, prefix = module.backbone, 'backbone.'
    depths = getattr(backbone, 'depths', None)
    if depths is None or 'depths' not in inspect.signature(
            type(backbone)).parameters:
        return ''
    theirs = list(depths)
    for path, count, _ in mismatches:
        stage = re.match(re.escape(prefix) + r'stages\.(\d+)\.\w+$', path)
        if stage:
            theirs[int(stage.group(1))] = count
    return (f' The model has depths={tuple(depths)}, the checkpoint '
            f'depths={tuple(theirs)}: to build the checkpoint\'s model, '
            '--cfg-options "model.backbone.depths='
            f'({",".join(map(str, theirs))})".')


def check_init_cfg(init_cfg) -> None:
    """errors.md row 9: a ``Pretrained`` ``init_cfg`` names a checkpoint
    and, optionally, a ``min_loaded_ratio`` in [0, 1]."""
    if not (isinstance(init_cfg, dict)
            and init_cfg.get('type') == 'Pretrained'):
        return
    if not init_cfg.get('checkpoint'):
        raise ValueError(f"init_cfg {init_cfg} of type 'Pretrained' needs a "
                         "'checkpoint' (path or URL).")
    ratio = init_cfg.get('min_loaded_ratio', MIN_LOADED_RATIO)
    if not 0 <= ratio <= 1:
        raise ValueError(f'init_cfg.min_loaded_ratio must be in [0, 1], got '
                         f'{ratio}.')


def check_frozen_stages(frozen_stages: int, num_stages: int) -> None:
    """errors.md row 5: ``frozen_stages`` lies in ``[-1, num_stages]``."""
    if not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'frozen_stages must be in [-1, {num_stages}], '
                         f'got {frozen_stages}.')


def num_classes_disagreement(found: Dict[str, int],
                             classes: Optional[Sequence[str]] = None,
                             dataset: str = 'the dataset') -> Optional[str]:
    """errors.md rows 14-16: a sentence saying which of the heads'
    ``num_classes`` (``found``: head name -> value) and the dataset's
    ``classes`` disagree, or None."""
    values = set(found.values()) | ({len(classes)} if classes else set())
    if len(values) <= 1:
        return None
    heads = ', '.join(f'{name}={value}' for name, value in found.items())
    data = f'; {dataset} has {len(classes)} classes' if classes else ''
    return f'num_classes disagree: {heads}{data}'


# Model attributes whose modules read the backbone's (or neck's) outputs
CONSUMERS = ('neck', 'decode_head', 'auxiliary_head', 'head', 'bbox_head',
             'rpn_head')


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP (or other) wrapper or a test-time
    augmentation model (``tools/test.py --tta``), as mmengine's runner
    loads checkpoints into it."""
    wrapped = is_model_wrapper(model) or isinstance(model, BaseTTAModel)
    return model.module if wrapped else model


def head_num_classes(model: nn.Module) -> Dict[str, int]:
    """``num_classes`` of every module outside the backbone that has one
    (heads, their losses, a classifier's data preprocessor), except the
    class-agnostic RPN."""
    found = {}
    for name, module in unwrap(model).named_modules():
        value = getattr(module, 'num_classes', None)
        if (name and isinstance(value, int) and not isinstance(value, bool)
                and not name.startswith('backbone') and 'rpn' not in name
                and 'RPN' not in type(module).__name__):
            found[name] = value
    return found


def check_num_classes(model: nn.Module, dataset=None,
                      role: str = 'train') -> None:
    """errors.md rows 14-16: every head's ``num_classes`` equals the
    dataset's number of classes.

    Raises:
        ConfigError: listing every head's value and the dataset's.
    """
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    problem = num_classes_disagreement(
        head_num_classes(model), classes,
        f'the {role} dataset {type(dataset).__name__}')
    if problem:
        raise ConfigError(
            f'{problem}. Set num_classes of every head (and data_preprocessor)'
            " to the dataset's number of classes, or give the dataset "
            'metainfo=dict(classes=...).')


def check_data_preprocessor(model: nn.Module) -> None:
    """errors.md row 60: the data preprocessor's ``mean`` and ``std`` are
    finite and ``std`` holds no 0 (every input would be Inf or NaN, and the
    loss NaN).

    Raises:
        ConfigError: naming the setting and its values.
    """
    preprocessor = getattr(unwrap(model), 'data_preprocessor', None)
    for name in ('mean', 'std'):
        value = getattr(preprocessor, name, None)
        if not isinstance(value, torch.Tensor):
            continue
        divides_by_zero = name == 'std' and bool((value == 0).any())
        if divides_by_zero or not torch.isfinite(value).all():
            raise ConfigError(
                f'data_preprocessor.{name}={value.flatten().tolist()} is not '
                'finite or divides by zero: normalised inputs (x - mean) / '
                'std would be Inf or NaN, and so the loss. Set it to the '
                'per-channel statistics of the images (e.g. mean=[123.675, '
                '116.28, 103.53], std=[58.395, 57.12, 57.375] for ImageNet on '
                '0-255 pixels).')


def check_checkpointing_under_ddp(model: nn.Module) -> None:
    """errors.md row 19: reject blocks from outside mmhvit with
    ``with_cp=True`` in a DDP model with ``find_unused_parameters=True``.

    Upstream blocks (mmdet's Swin and PVT, mmseg's ViT) checkpoint with
    torch's reentrant implementation, which DDP fails on at the first
    backward ("Expected to mark a variable ready only once"). mmhvit's own
    blocks use the non-reentrant one, which works either way.

    Raises:
        ConfigError: naming the blocks.
    """
    if not (is_model_wrapper(model)
            and getattr(model, 'find_unused_parameters', False)):
        return
    blocks = [
        f'{name} ({type(module).__name__})'
        for name, module in unwrap(model).named_modules()
        if getattr(module, 'with_cp', False) is True
        and not type(module).__module__.startswith('mmhvit')
    ]
    if blocks:
        raise ConfigError(
            f'with_cp=True in {len(blocks)} blocks from outside mmhvit, e.g. '
            f'{blocks[:3]}: their reentrant checkpointing fails under DDP '
            'with find_unused_parameters=True at the first backward '
            '("Expected to mark a variable ready only once"). Set '
            'find_unused_parameters=False or with_cp=False.')


def install_forward_checks(model: nn.Module) -> List:
    """errors.md rows 10-13: forward hooks that check what the backbone and
    the neck hand on, and the backbone's input size; returns their handles.

    The checks run as hooks of the producers (backbone, neck) because
    mmseg's heads are called through ``forward`` directly, bypassing
    hooks of their own: the backbone's output is checked against the neck
    (or, without one, the heads) before the neck runs, the neck's against
    the heads.
    """
    model = unwrap(model)
    heads = [(label, module) for name in CONSUMERS[1:]
             for label, module in _modules_named(model, name)
             if hasattr(module, 'in_channels')]
    neck = [(label, module) for label, module in _modules_named(model, 'neck')
            if hasattr(module, 'in_channels')]
    handles = []
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, nn.Module):
        has_neck = getattr(model, 'neck', None) is not None
        handles.append(backbone.register_forward_hook(partial(
            _check_consumers, neck if has_neck else heads, 'backbone')))
        if total_stride(backbone):
            handles.append(
                backbone.register_forward_pre_hook(check_input_size))
    for _, module in _modules_named(model, 'neck'):
        handles.append(module.register_forward_hook(
            partial(_check_consumers, heads, 'neck')))
    return handles


def _modules_named(model: nn.Module, name: str):
    module = getattr(model, name, None)
    if isinstance(module, nn.ModuleList):
        return [(f'{name}[{i}]', m) for i, m in enumerate(module)]
    return [(name, module)] if isinstance(module, nn.Module) else []


def _check_consumers(consumers, source: str, producer: nn.Module, args,
                     output) -> None:
    """Forward hook of ``producer``: its output fits every consumer."""
    for label, module in consumers:
        check_channels(label, source, module, output)


def check_channels(label: str, source: str, module: nn.Module,
                   feats) -> None:
    """errors.md rows 10-12: the channels of the feature maps ``feats``
    that ``module`` will receive match its ``in_channels`` (with mmseg's
    ``in_index`` and ``input_transform``; mmpretrain heads read the last
    map only).

    Raises:
        ConfigError: naming the module, both channel lists and the fix.
    """
    if not (isinstance(feats, (list, tuple)) and feats
            and all(isinstance(f, torch.Tensor) for f in feats)):
        return
    selected = [f.shape[1] for f in _selected(label, module, feats)]
    expected = module.in_channels
    if getattr(module, 'input_transform', None) == 'resize_concat':
        actual, expected, fix = [sum(selected)], [expected], sum(selected)
    elif isinstance(expected, Sequence):
        actual, expected, fix = selected, list(expected), selected
    elif label == 'head':  # mmpretrain heads classify the last map
        actual, expected, fix = selected[-1:], [expected], selected[-1]
    else:
        actual, expected = selected, [expected] * len(selected)
        fix = selected[0]
    if actual != expected:
        raise ConfigError(
            f'{label} ({type(module).__name__}) has in_channels='
            f'{module.in_channels} but receives {len(feats)} feature maps '
            f'from the {source} with {[f.shape[1] for f in feats]} channels'
            f'{_index_note(module)}. Set {label}.in_channels={fix} (or '
            f'change the {source}).')


def _selected(label: str, module: nn.Module, feats) -> List[torch.Tensor]:
    index = getattr(module, 'in_index', None)
    if index is None:
        return list(feats)
    indices = list(index) if isinstance(index, Sequence) else [index]
    if any(not -len(feats) <= i < len(feats) for i in indices):
        raise ConfigError(
            f'{label}.in_index={index} but {label} receives only '
            f'{len(feats)} feature maps.')
    return [feats[i] for i in indices]


def _index_note(module: nn.Module) -> str:
    index = getattr(module, 'in_index', None)
    return '' if index is None else f' (in_index={index})'


def total_stride(backbone: Optional[nn.Module]) -> int:
    """The total stride of a backbone that needs an input at least that
    large (mmdet's PVT family, HAFA's PVT/PVTv2/Swin), else 0.

    mmhvit's own pyramid backbones pad and accept any size."""
    strides = getattr(backbone, 'strides', None)
    if not isinstance(strides, Sequence) or not strides:
        return 0
    return math.prod(strides)


def check_input_size(backbone: nn.Module, args: tuple) -> None:
    """errors.md row 13, a forward pre-hook: every input side is at least
    the total stride.

    Raises:
        ConfigError: naming the input size and the stride.
    """
    stride = total_stride(backbone)
    height, width = args[0].shape[-2:]
    if min(height, width) < stride:
        raise ConfigError(
            f'An input of {height}x{width} pixels is smaller than the total '
            f'stride {stride} of {type(backbone).__name__}, which needs at '
            f'least {stride}x{stride}: resize or pad the images (Resize / '
            'Pad in the pipeline, data_preprocessor size or '
            'pad_size_divisor).')
