"""Loading pretrained weights into a backbone, loudly.

A checkpoint whose keys do not match is the most common way to train "from
scratch" by accident. :func:`load_pretrained` converts official layouts on
the fly, loads what matches and logs how much did: loaded, missing,
unexpected and shape-mismatched tensors. It raises when nothing matched, or
when less than ``min_loaded_ratio`` of the module's parameters did.
``mmhvit.checks.checkpoint`` applies the same threshold after training
initialised a model, to every module with a ``Pretrained`` ``init_cfg``,
whichever loader (mmhvit's, mmseg's, mmdet's, mmengine's) filled it, with
the matching of this module (:func:`match_state_dict`,
:data:`PRETRAINED_LOADS`).
"""
import logging
import re
import weakref
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from mmhvit.checks.model import check_block_counts
from mmhvit.utils import local_checkpoint_missing, missing_checkpoint_message
from .ckpt_convert import OFFICIAL_FORMATS

# What to run on a checkpoint in an official layout that is not converted
# while loading: (layout name, detector, advice)
OFFICIAL_LAYOUTS = [
    ('HAT-Net', OFFICIAL_FORMATS['hat_net'][0],
     'tools/model_converters/hat_net2mmhvit.py'),
    ('HLG', OFFICIAL_FORMATS['hlg'][0],
     'tools/model_converters/hlg2mmhvit.py'),
    ('PVT', OFFICIAL_FORMATS['pvt'][0],
     "mmdet's pvt_convert (mmhvit's PVT-HAFA and mmdet's PVT with "
     'convert_weights=True apply it while loading)'),
    ('Swin', OFFICIAL_FORMATS['swin'][0],
     "mmdet's swin_converter (mmhvit's Swin-HAFA and mmdet's Swin with "
     'convert_weights=True apply it while loading)'),
    ('SETR', lambda state_dict: any(
        re.match(r'^backbone\.blocks\.0\.attn\.qkv\.', key)
        for key in state_dict),
     'tools/model_converters/setr2mmhvit.py'),
    ('timm ViT / DeiT', lambda state_dict: any(
        re.match(r'^blocks\.0\.attn\.qkv\.', key) for key in state_dict),
     "mmseg's tools/model_converters/vit2mmseg.py"),
]

#: module -> (checkpoint, share of its parameters loaded) of its last
#: :func:`load_pretrained`, which ``mmhvit.checks``' ``check_pretrained``
#: trusts
PRETRAINED_LOADS = weakref.WeakKeyDictionary()


class LoadReport(NamedTuple):
    """Outcome of matching a checkpoint against a module."""
    loaded: Dict
    missing: list
    unexpected: list
    mismatched: list  # (key, checkpoint shape, model shape)


def unwrap_state_dict(checkpoint: Dict) -> Dict:
    """The tensors of a checkpoint saved by mmengine, timm or plain torch."""
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def match_state_dict(module: nn.Module, state_dict: Dict) -> LoadReport:
    """Split ``state_dict`` into what fits ``module`` and what does not."""
    own = module.state_dict()
    loaded, mismatched = {}, []
    for key, value in state_dict.items():
        if key in own:
            if own[key].shape == value.shape:
                loaded[key] = value
            else:
                mismatched.append(
                    (key, tuple(value.shape), tuple(own[key].shape)))
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    return LoadReport(loaded, missing, unexpected, mismatched)


def official_layout(state_dict: Dict) -> Optional[Tuple[str, str]]:
    """``(layout name, converter to run)`` of a checkpoint in one of the
    official layouts of :data:`OFFICIAL_LAYOUTS`, else None."""
    for name, is_layout, advice in OFFICIAL_LAYOUTS:
        if is_layout(state_dict):
            return name, advice
    return None


def loaded_ratio(module: nn.Module, keys) -> float:
    """Share of the parameter elements of ``module`` named in ``keys``."""
    params = dict(module.named_parameters())
    total = sum(param.numel() for param in params.values())
    loaded = sum(params[key].numel() for key in keys if key in params)
    return loaded / max(total, 1)


def load_pretrained(module: nn.Module,
                    filename: str,
                    prefix: Optional[str] = None,
                    official_format: Optional[str] = None,
                    min_loaded_ratio: Optional[float] = None,
                    adapt: Optional[Callable[[Dict], Dict]] = None
                    ) -> LoadReport:
    """Load ``filename`` into ``module`` and log what was loaded.

    Args:
        module (nn.Module): Usually a backbone.
        filename (str): Local path or URL of the checkpoint.
        prefix (str, optional): Keep only keys with this prefix, stripped
            (e.g. ``'backbone.'`` for a classifier or detector checkpoint).
            Ignored when no key has it (a backbone-only checkpoint).
        official_format (str, optional): A key of ``OFFICIAL_FORMATS``; a
            checkpoint in that official layout is converted first.
        min_loaded_ratio (float, optional): Raise when a smaller share of
            the module's parameter elements was loaded, or when a stage of
            the checkpoint has more or fewer blocks than the module's. 0 or
            None: load whatever fits and only log.
        adapt (callable, optional): Maps the tensors, converted and with
            the prefix stripped, to the module's layout where it differs
            from the checkpoint's (e.g. HAFA's renumbered PVT layers).

    Raises:
        RuntimeError: when not a single tensor of the checkpoint fits, or
            less than ``min_loaded_ratio`` of the parameters were loaded;
            the message names the missing and mismatched tensors and, for
            a checkpoint in an official layout, the converter to run.
        ConfigError: when a stage of the checkpoint has more or fewer
            blocks than the module's (``check_block_counts``), unless
            ``min_loaded_ratio`` is 0 or None.
    """
    if local_checkpoint_missing(filename):
        raise FileNotFoundError(
            missing_checkpoint_message(filename, 'init_cfg.checkpoint'))
    state_dict = unwrap_state_dict(
        CheckpointLoader.load_checkpoint(filename, map_location='cpu'))
    if official_format is not None:
        is_official, convert = OFFICIAL_FORMATS[official_format]
        if is_official(state_dict):
            state_dict = convert(state_dict)
            print_log(f'Converted the official {official_format} checkpoint '
                      f'{filename} to the mmhvit layout.', logger='current')
    if prefix and any(key.startswith(prefix) for key in state_dict):
        state_dict = {
            key[len(prefix):]: value
            for key, value in state_dict.items() if key.startswith(prefix)
        }
    if adapt is not None:
        state_dict = adapt(state_dict)
    report = match_state_dict(module, state_dict)
    name = type(module).__name__
    if not report.loaded:
        raise RuntimeError(
            f'No tensor of {filename} fits {name}: the checkpoint has keys '
            f'like {list(state_dict)[:3]}, the model {report.missing[:3]}. '
            + converter_advice(state_dict))
    if min_loaded_ratio:  # 0 or None: load whatever fits
        check_block_counts(module, state_dict, filename)
    ratio = loaded_ratio(module, report.loaded)
    if min_loaded_ratio is not None and ratio < min_loaded_ratio:
        raise RuntimeError(
            f'Only {ratio:.1%} of the parameters of {name} were loaded from '
            f'{filename}, below min_loaded_ratio={min_loaded_ratio}: '
            f'{_summary(report)}. {converter_advice(state_dict)} To train '
            'anyway, lower init_cfg.min_loaded_ratio.')
    module.load_state_dict(report.loaded, strict=False)
    PRETRAINED_LOADS[module] = (filename, ratio)
    _log_report(report, name, filename, ratio)
    return report


def converter_advice(state_dict: Dict) -> str:
    """The converter an official layout needs, or what else to suspect."""
    layout = official_layout(state_dict)
    if layout is not None:
        return (f'It is an official {layout[0]} checkpoint: convert it with '
                f'{layout[1]}.')
    return ('Is it a checkpoint of another model or variant (arch), or '
            'does it need a converter from tools/model_converters/?')


def _summary(report: LoadReport) -> str:
    parts = [f'{len(report.missing)} missing (e.g. {report.missing[:3]})']
    if report.unexpected:
        parts.append(f'{len(report.unexpected)} unexpected (e.g. '
                     f'{report.unexpected[:3]})')
    if report.mismatched:
        parts.append(f'{len(report.mismatched)} shape-mismatched (e.g. ' +
                     ', '.join(f'{key}: checkpoint {ckpt}, model {model}'
                               for key, ckpt, model in report.mismatched[:3])
                     + ')')
    return '; '.join(parts)


def convert_official_file(src: str, dst: str, official_format: str) -> Dict:
    """Convert the checkpoint ``src`` from an official layout (a key of
    ``OFFICIAL_FORMATS``) to mmhvit's and save it to ``dst``.

    Returns:
        dict: the converted tensors.

    Raises:
        ValueError: when ``src`` is not in that layout.
    """
    state_dict = unwrap_state_dict(
        CheckpointLoader.load_checkpoint(src, map_location='cpu'))
    is_official, convert = OFFICIAL_FORMATS[official_format]
    if not is_official(state_dict):
        raise ValueError(
            f'{src} is not in the official {official_format} layout; its '
            f'first keys are {list(state_dict)[:5]}.')
    converted = convert(state_dict)
    torch.save(dict(state_dict=converted, meta=dict(source=src)), dst)
    return converted


def _log_report(report: LoadReport, name: str, filename: str, ratio: float):
    total = len(report.loaded) + len(report.missing)
    complete = not (report.missing or report.mismatched)
    lines = [f'Loaded {len(report.loaded)}/{total} tensors of {name} '
             f'({ratio:.1%} of its parameters) from {filename}: '
             f'{len(report.missing)} missing, '
             f'{len(report.unexpected)} unexpected, '
             f'{len(report.mismatched)} shape-mismatched.']
    if report.missing:
        lines.append(f'  missing: {report.missing[:10]}')
    if report.unexpected:
        lines.append(f'  unexpected: {report.unexpected[:10]}')
    for key, ckpt_shape, model_shape in report.mismatched[:10]:
        lines.append(f'  shape mismatch {key}: checkpoint {ckpt_shape}, '
                     f'model {model_shape}')
    print_log('\n'.join(lines), logger='current',
              level=logging.INFO if complete else logging.WARNING)
