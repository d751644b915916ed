"""Loading pretrained weights into a backbone, loudly.

A checkpoint whose keys do not match is the most common way to train "from
scratch" by accident. :func:`load_pretrained` converts official layouts on
the fly, loads what matches and logs how much did: loaded, missing,
unexpected and shape-mismatched tensors. It raises when nothing matched.
"""
import logging
from typing import Dict, NamedTuple, Optional

from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from .ckpt_convert import OFFICIAL_FORMATS


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


def load_pretrained(module: nn.Module,
                    filename: str,
                    prefix: Optional[str] = None,
                    official_format: Optional[str] = None) -> LoadReport:
    """Load ``filename`` into ``module`` and log what was loaded.

    Args:
        module (nn.Module): Usually a backbone.
        filename (str): Local path or URL of the checkpoint.
        prefix (str, optional): Keep only keys with this prefix, stripped
            (e.g. ``'backbone.'`` for a classifier or detector checkpoint).
            Ignored when no key has it (a backbone-only checkpoint).
        official_format (str, optional): A key of ``OFFICIAL_FORMATS``; a
            checkpoint in that official layout is converted first.

    Raises:
        RuntimeError: when not a single tensor of the checkpoint fits.
    """
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
    report = match_state_dict(module, state_dict)
    name = type(module).__name__
    if not report.loaded:
        raise RuntimeError(
            f'No tensor of {filename} fits {name}: the checkpoint has keys '
            f'like {list(state_dict)[:3]}, the model {report.missing[:3]}. '
            'Is it a checkpoint of another model, or does it need a '
            'converter from tools/model_converters/?')
    module.load_state_dict(report.loaded, strict=False)
    _log_report(report, name, filename)
    return report


def convert_official_file(src: str, dst: str, official_format: str) -> Dict:
    """Convert the checkpoint ``src`` from an official layout (a key of
    ``OFFICIAL_FORMATS``) to mmhvit's and save it to ``dst``.

    Returns:
        dict: the converted tensors.

    Raises:
        ValueError: when ``src`` is not in that layout.
    """
    import torch
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


def converter_cli(official_format: str, doc: str):
    """``main`` of the ``tools/model_converters/*2mmhvit.py`` scripts:
    ``SRC DST`` on the command line, the script's docstring as help."""
    import argparse
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (path or URL)')
    parser.add_argument('dst', help='output path')
    args = parser.parse_args()
    try:
        converted = convert_official_file(args.src, args.dst, official_format)
    except ValueError as error:
        raise SystemExit(str(error))
    print(f'Converted into {len(converted)} tensors: {args.dst}')


def _log_report(report: LoadReport, name: str, filename: str):
    total = len(report.loaded) + len(report.missing)
    complete = not (report.missing or report.mismatched)
    lines = [f'Loaded {len(report.loaded)}/{total} tensors of {name} from '
             f'{filename}: {len(report.missing)} missing, '
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
