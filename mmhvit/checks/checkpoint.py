"""Checks of the checkpoints a run names: the ones it resumes from, starts
from (``load_from``), tests or loads into ``Pretrained`` modules.

mmengine loads every checkpoint non-strictly: a checkpoint of another model
is "loaded" with its mismatches in the log only, so training starts from
scratch with rc 0, a resumed run fails inside the optimizer iterations
later (``The size of tensor a (64) must match ... (128)``), and a test
scores a network whose classifier kept its initial values.
``PreflightCheckHook`` runs these checks before the first iteration; the
tools check the paths before the runner is built.
"""
import os.path as osp
from typing import Dict, Iterator, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from mmhvit.models.utils.checkpoint import (PRETRAINED_LOADS, LoadReport,
                                            converter_advice, loaded_ratio,
                                            match_state_dict, official_layout,
                                            unwrap_state_dict)
from mmhvit.utils import (ConfigError, latest_checkpoint,
                          local_checkpoint_missing, missing_checkpoint_message)
from .config import cfg_option
from .model import MIN_LOADED_RATIO, check_block_counts, unwrap

#: What a checkpoint needs besides weights for mmengine to resume from it.
TRAINING_STATE = ('meta', 'message_hub')


def check_checkpoint_paths(cfg: Config) -> None:
    """errors.md row 82: every local checkpoint a ``Pretrained``
    ``init_cfg`` of the model names exists.

    Raises:
        FileNotFoundError: naming the setting, the file and, for a file of
            ``work_dirs/``, the config whose training writes it.
    """
    for key, path in _pretrained_checkpoints(cfg.get('model'), 'model'):
        if local_checkpoint_missing(path):
            raise FileNotFoundError(missing_checkpoint_message(path, key))


def _pretrained_checkpoints(node, key):
    """``(config key, checkpoint)`` of the ``Pretrained`` init_cfgs below
    ``node``."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get(
                'type') == 'Pretrained':
            yield f'{key}.init_cfg.checkpoint', init_cfg.get('checkpoint')
        for name, child in node.items():
            if name != 'init_cfg':
                yield from _pretrained_checkpoints(child, f'{key}.{name}')
    elif isinstance(node, (list, tuple)):
        for i, child in enumerate(node):
            yield from _pretrained_checkpoints(child, f'{key}[{i}]')


def resume_target(path: Optional[str], work_dir: str) -> Optional[str]:
    """errors.md row 66: the checkpoint a resumed run continues from:
    ``path``; for a directory (or no path: the work dir) its newest
    complete checkpoint (:func:`latest_checkpoint`); None when the work dir
    has none.

    Raises:
        FileNotFoundError: for a directory without checkpoints.
    """
    directory = work_dir if path is None else path
    if not osp.isdir(directory):
        return path
    found = latest_checkpoint(directory)
    if found is None and path is not None:
        raise FileNotFoundError(
            f'Cannot resume from {path}: it is a directory without '
            'checkpoints (iter_*.pth, epoch_*.pth or a last_checkpoint '
            'file). Name a checkpoint, or leave --resume without a value to '
            'continue from the work dir.')
    return found


def check_checkpoint_file(path: str, setting: str) -> None:
    """errors.md row 63: a checkpoint to load is not a directory.

    Raises:
        IsADirectoryError: naming its newest checkpoint.
    """
    if isinstance(path, str) and osp.isdir(path):
        newest = latest_checkpoint(path)
        raise IsADirectoryError(
            f'{setting} {path} is a directory: name a checkpoint file'
            + (f' (its newest is {newest})' if newest else
               ' (it holds none)') + '.')


def check_resumable(model: nn.Module, path: str) -> None:
    """errors.md rows 64 and 65: ``path`` holds mmengine's training state
    and tensors of exactly the model's names and shapes.

    Raises:
        ConfigError: naming what is absent or differs, and the model its
            config built.
    """
    checkpoint = _load(path)
    absent = [key for key in TRAINING_STATE if key not in checkpoint]
    if absent:
        raise ConfigError(
            f'Cannot resume from {path}: it holds weights but no training '
            f'state ({", ".join(absent)} absent; it has {sorted(checkpoint)}'
            '). To start a new run from its weights, set load_from ('
            f'{cfg_option("load_from", path)}) without --resume.')
    report = match_state_dict(unwrap(model), unwrap_state_dict(checkpoint))
    if report.mismatched or report.missing or report.unexpected:
        raise ConfigError(
            f'Cannot resume from {path}: it was written by training '
            f'{describe(checkpoint, model)}: {_differences(report)}. '
            'mmengine would load what fits and fail inside the optimizer '
            'later. Resume with the config that wrote it, or start a new run '
            'from its weights with load_from (without --resume).')


def check_loaded_from(model: nn.Module, path: str, min_ratio: float) -> None:
    """errors.md rows 61, 62 and 100: at least ``min_ratio`` of the model's
    parameters were filled from ``load_from`` (mmengine loads by name and
    shape, skipping the rest).

    Raises:
        ConfigError: naming the share, the differences and what wrote the
            checkpoint.
    """
    checkpoint, ratio, report = _fit(model, path)
    if ratio < min_ratio:
        raise ConfigError(
            f'load_from {path} filled only {ratio:.1%} of the model\'s '
            f'parameters, below {min_ratio}: it is a checkpoint of '
            f'{describe(checkpoint, model)}; {_differences(report)}. Training '
            'would start from scratch. Use a checkpoint of this model, or '
            "lower PreflightCheckHook's min_checkpoint_ratio (custom_hooks) "
            'to train anyway.')
    check_block_counts(unwrap(model), unwrap_state_dict(checkpoint), path)


def check_tested(model: nn.Module, path: str, min_ratio: float,
                 use: str = 'test') -> None:
    """errors.md rows 30, 67, 81 and 100: the checkpoint a test (or ``use``: an
    inference) runs fills at least ``min_ratio`` of the model's parameters
    and none of its tensors has another shape than the model's.

    Raises:
        RuntimeError: naming the share or the tensors of other shapes.
    """
    checkpoint, ratio, report = _fit(model, path)
    if ratio < min_ratio:
        raise RuntimeError(
            f'Only {ratio:.1%} of the parameters of the model hold values of '
            f'{path}: it is a checkpoint of another model or config '
            f'({describe(checkpoint, model)}), and the {use} would run an '
            'untrained network.')
    if report.mismatched:
        raise RuntimeError(
            f'{path} does not fit the model of the config: '
            f'{_differences(report)}. Those tensors would keep their initial '
            f'values in the {use}: was it trained with another num_classes '
            'or arch?')
    check_block_counts(unwrap(model), unwrap_state_dict(checkpoint), path)


def describe(checkpoint: Dict, model: nn.Module) -> str:
    """What wrote ``checkpoint``: the model and backbone its config (which
    mmengine keeps in ``meta.cfg``) builds, an official layout, the
    backbone of ``model`` alone, or its first keys."""
    text = (checkpoint.get('meta') or {}).get('cfg')
    try:
        written_by = Config.fromstring(text, '.py').model
    except Exception:  # no config, or one that does not parse alone
        written_by = None
    if written_by is not None:
        backbone = written_by.get('backbone') or {}
        arch = backbone.get('arch')
        return (f"a model of type {written_by.get('type')} with backbone "
                f"{backbone.get('type')}"
                + (f' (arch {arch!r})' if isinstance(arch, str) else ''))
    state_dict = unwrap_state_dict(checkpoint)
    layout = official_layout(state_dict)
    if layout is not None:
        return (f'an official {layout[0]} model ({layout[1]} converts its '
                'checkpoints)')
    own = unwrap(model).state_dict()
    if any(f'backbone.{key}' in own for key in state_dict):
        return ('a backbone alone, without the "backbone." prefix, which '
                "model.backbone.init_cfg=dict(type='Pretrained', checkpoint="
                '...) loads')
    return f'another model, with keys like {list(state_dict)[:3]}'


def _load(path: str) -> Dict:
    return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def _fit(model: nn.Module, path: str) -> Tuple[Dict, float, LoadReport]:
    """The checkpoint ``path``, the share of the model's parameter
    elements a load of it by name and shape fills, and the report of that
    match."""
    checkpoint, model = _load(path), unwrap(model)
    report = match_state_dict(model, unwrap_state_dict(checkpoint))
    return checkpoint, loaded_ratio(model, report.loaded), report


def _differences(report: LoadReport) -> str:
    mismatched = ', '.join(f'{key}: checkpoint {ckpt}, model {own}'
                           for key, ckpt, own in report.mismatched[:2])
    return (f'{len(report.mismatched)} tensors of other shapes'
            + (f' (e.g. {mismatched})' if mismatched else '')
            + f', {len(report.missing)} of the model absent (e.g. '
            f'{report.missing[:2]}), {len(report.unexpected)} unknown to it')


def snapshot_pretrained(model: nn.Module) -> Dict[nn.Module, list]:
    """Fingerprints of the parameters of every module of ``model`` with a
    ``Pretrained`` ``init_cfg``, taken before ``init_weights()`` for
    :func:`check_pretrained`."""
    return {
        module: [_fingerprint(param) for param in module.parameters()]
        for _, module, _ in _pretrained_modules(model)
    }


def check_pretrained(model: nn.Module,
                     before: Dict[nn.Module, list],
                     default_ratio: float = MIN_LOADED_RATIO) -> None:
    """errors.md row 26: after ``init_weights()``, check every submodule of
    ``model`` whose ``init_cfg`` is ``Pretrained``: at least
    ``init_cfg.min_loaded_ratio`` (default ``default_ratio``) of its
    parameters must have been loaded.

    Modules filled by mmhvit's ``load_pretrained`` are judged by its report;
    any other (mmseg's ViT, mmdet's PVT and Swin, mmengine's
    ``PretrainedInit``, which load without re-initialising) by
    :func:`share_of_checkpoint`: a parameter counts as loaded when
    ``init_weights()`` changed it or it equals a tensor of the checkpoint,
    whatever keys and conversions the loader used.

    Args:
        model (nn.Module): The initialised model.
        before (dict): :func:`snapshot_pretrained` of the model before
            ``init_weights()``.
        default_ratio (float): Threshold for modules whose ``init_cfg`` sets
            none.

    Raises:
        RuntimeError: naming the module, the share, the checkpoint and,
            when it is in an official layout, the converter to run.
    """
    for name, module, init_cfg in _pretrained_modules(model):
        filename = init_cfg['checkpoint']
        loaded = PRETRAINED_LOADS.get(module)
        ratio = loaded[1] if loaded and loaded[0] == filename else \
            share_of_checkpoint(module, filename, before.get(module))
        label = f'{name or "model"} ({type(module).__name__})'
        print_log(f'{label}: {ratio:.1%} of its parameters were loaded from '
                  f'{filename}.', logger='current')
        minimum = init_cfg.get('min_loaded_ratio', default_ratio)
        if ratio < minimum:
            raise RuntimeError(
                f'{label}: only {ratio:.1%} of its parameters were loaded '
                f'from {filename} (init_cfg Pretrained), below '
                f'min_loaded_ratio={minimum}; training would start from '
                'scratch. ' + converter_advice(_checkpoint_tensors(filename)) +
                ' To train anyway, lower init_cfg.min_loaded_ratio.')


def _pretrained_modules(model) -> Iterator[Tuple[str, nn.Module, Dict]]:
    for name, module in model.named_modules():
        init_cfg = getattr(module, 'init_cfg', None)
        if isinstance(init_cfg, dict) and init_cfg.get(
                'type') == 'Pretrained' and init_cfg.get('checkpoint'):
            yield name, module, init_cfg


def _checkpoint_tensors(filename: str) -> Dict:
    return unwrap_state_dict(_load(filename))


def _fingerprint(tensor: torch.Tensor) -> Tuple:
    """Size, sums and end values: equal for copies, also reshaped ones."""
    flat = tensor.detach().reshape(-1).double()
    return (flat.numel(), flat.sum().item(), flat.abs().sum().item(),
            flat[0].item(), flat[-1].item())


def share_of_checkpoint(module: nn.Module, filename: str,
                        before: Optional[list] = None) -> float:
    """Share of the parameter elements of ``module`` that hold a tensor of
    the checkpoint ``filename`` (under any key, in any shape) or, given the
    parameters' fingerprints ``before`` loading, changed since."""
    stored = {
        _fingerprint(value)
        for value in _checkpoint_tensors(filename).values()
        if isinstance(value, torch.Tensor) and value.numel()
        and value.is_floating_point()
    }
    params = list(module.parameters())
    total = loaded = 0
    for param, old in zip(params, before or [None] * len(params)):
        total += param.numel()
        fingerprint = _fingerprint(param)
        if fingerprint in stored or (old is not None and fingerprint != old):
            loaded += param.numel()
    return loaded / max(total, 1)
