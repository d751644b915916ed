"""Checks of a config before the runner is built: the ``--cfg-options`` of
the tools against the config they change, and the data paths it names.

mmengine's ``DictAction`` fails on an option without ``=`` with ``ValueError:
not enough values to unpack``, turns a value of the wrong type into a string
that fails much later without the key (``invalid literal for int() with base
10: 'abc'``), merges a misspelt key (``load_fron=...``) as a new setting
that nothing reads, and deletes every space of a value (a ``data_root`` with
spaces points elsewhere).
"""
import difflib
import os
import os.path as osp
import shlex

from mmengine.config import Config, DictAction

from mmhvit.config_settings import SETTINGS
from mmhvit.utils import ConfigError
from .coco import load_json

_MISSING = object()


class CfgOptionsAction(DictAction):
    """errors.md rows 68 and 91: mmengine's ``DictAction``; an option
    without ``=`` is refused with the option and the form it needs
    (argparse's usage error, status 2), and a single value keeps its spaces
    (mmengine deletes them, so ``data_root=/data/my set`` became
    ``/data/myset``); lists and tuples are parsed as mmengine does."""

    def __call__(self, parser, namespace, values, option_string=None):
        for value in values:
            if '=' not in value:
                parser.error(
                    f'{option_string} takes KEY=VALUE pairs, got {value!r} '
                    f'without "=" (e.g. {value}=VALUE).')
        super().__call__(parser, namespace, values, option_string)

    @staticmethod
    def _parse_iterable(val: str):
        text = val.strip('\'"')
        if ' ' not in text or text.startswith(('[', '(')) or ',' in text:
            return DictAction._parse_iterable(val)
        return DictAction._parse_int_float_bool(text)


def cfg_option(key: str, value: str) -> str:
    """``--cfg-options`` and ``key=value`` quoted for a shell, ready to
    paste (a path with spaces stays one argument)."""
    return f'--cfg-options {shlex.quote(f"{key}={value}")}'


def merge_cfg_options(cfg: Config, options: dict) -> None:
    """Merge ``options`` (as :class:`CfgOptionsAction` parses them) into
    ``cfg`` after :func:`check_cfg_option` and
    :func:`check_config_variable_option` of each."""
    for key, value in options.items():
        check_config_variable_option(cfg, key, value)
        check_cfg_option(cfg, key, value)
    cfg.merge_from_dict(options)


def check_config_variable_option(cfg: Config, key: str, value) -> None:
    """errors.md row 112: ``key`` is not one of the data settings a config
    file reads as a top-level variable while it is parsed (``data_root``,
    ``num_classes``, ``crop_size``, ...: ``SETTINGS`` of
    :mod:`mmhvit.config_settings`); merged afterwards, such a value reaches
    none of the entries built from it.

    Raises:
        ConfigError: naming the entries to set instead (those of the same
            name), or a child config with ``apply_data_settings``.
    """
    if key not in SETTINGS:
        return
    entries = [
        path for path in _paths_to(dict(cfg.items()), key)
        if not path.split('.')[0].endswith('_pipeline') and path != key
    ][:4]  # top-level pipelines are variables too
    kept = (f' (the entries built from it keep {cfg[key]!r})'
            if key in cfg else '')
    entries = (', or set those entries, e.g. --cfg-options ' + ' '.join(
        shlex.quote(f'{path}={value}') for path in entries)
        if entries else '')
    raise ConfigError(
        f'--cfg-options {key}={value}: {key} is a variable of the config '
        'file, used while the file was read: changed now, it reaches '
        f'nothing{kept}. Set it in a child config that ends with '
        'apply_data_settings(globals()) (docs/custom_dataset.md), which '
        f'carries it to every entry that uses it{entries}.')


def _paths_to(node, name: str, prefix: str = ''):
    """The dotted paths (list indices as numbers) of every ``name`` key in
    the nested dicts and lists of ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, (list, tuple)) else []
    for key, child in items:
        path = f'{prefix}{key}'
        if key == name:
            yield path
        yield from _paths_to(child, name, path + '.')


def check_cfg_option(cfg: Config, key: str, value) -> None:
    """errors.md rows 69 and 70: ``key=value`` does not put text where the
    config holds a number or a bool, and a key the config lacks is not a
    near miss of one it has.

    Raises:
        ConfigError: naming the option, and the config's value or the key
            it probably means.
    """
    node, path = dict(cfg.items()), []
    for name in key.split('.'):
        parent, node = node, _child(node, name)
        if node is _MISSING:
            close = difflib.get_close_matches(
                name, [str(k) for k in _keys(parent)], n=1, cutoff=0.8)
            if close:
                where = '.'.join(path) or 'the config'
                raise ConfigError(
                    f'--cfg-options {key}: {where} has no key {name!r}; did '
                    f'you mean {close[0]!r}? (A new key would be merged and '
                    'silently ignored.)')
            return
        path.append(name)
    if isinstance(node, (bool, int, float)) and isinstance(value, str):
        raise ConfigError(
            f'--cfg-options {key}={value}: the config holds the '
            f'{type(node).__name__} {node!r} there, not text. Give a number '
            f'or True / False, as in {key}={node!r}.')


#: The tasks whose ``tools/test.py --tta`` (mmdet's, mmpretrain's) builds a
#: flip test-time augmentation for a config that has none.
FLIP_TTA_SCOPES = ('mmdet', 'mmpretrain')


def check_tta(cfg: Config) -> None:
    """errors.md rows 103-105: ``--tta`` on a config it can test: a
    segmentation config has a ``tta_pipeline`` (mmseg's tools have no
    default; the test scales are the config's), a detector predicts no
    instance masks (mmdet's ``DetTTAModel`` merges boxes only and asserts
    after the first batch), and a classification config does not draw
    (mmpretrain's visualization hook fails on augmented batches).

    Raises:
        ConfigError: naming what the config lacks and how to test it.
    """
    scope = cfg.get('default_scope')
    if not cfg.get('tta_pipeline') and scope not in FLIP_TTA_SCOPES:
        raise ConfigError(
            f'--tta: the config (default_scope={scope!r}) has no '
            'tta_pipeline, so there is nothing to augment the test with '
            '(mmseg has no default). Define tta_pipeline (and tta_model, '
            "e.g. dict(type='SegTTAModel')) as mmseg's dataset bases do, "
            "e.g. inherit configs/_base_/datasets/ade20k.py's, or test "
            'without --tta.')
    heads = [cfg.model, cfg.model.get('roi_head') or {}]
    if scope == 'mmdet' and any('mask_head' in head for head in heads):
        raise ConfigError(
            f'--tta: {cfg.model.get("type")} predicts instance masks, which '
            "mmdet's test-time augmentation (DetTTAModel) cannot merge (it "
            'merges boxes only: "TTA of instance segmentation does not '
            'support now" after the first batch). Test this config without '
            '--tta; box-only detectors (RetinaNet) take it.')
    drawing = cfg.get('default_hooks', {}).get('visualization', {})
    if scope == 'mmpretrain' and drawing.get('enable'):
        raise ConfigError(
            "--tta with --show-dir (or --show, or default_hooks."
            "visualization.enable=True): mmpretrain's VisualizationHook "
            'draws plain batches only (it fails on the first augmented '
            'one). Draw the predictions in a run without --tta.')


def _child(node, name: str):
    if isinstance(node, dict):
        return node.get(name, _MISSING)
    if isinstance(node, (list, tuple)) and name.isdigit() and \
            int(name) < len(node):
        return node[int(name)]
    return _MISSING


def _keys(node):
    return node.keys() if isinstance(node, dict) else []


def check_data_paths(cfg, *dataloaders: str) -> None:
    """errors.md rows 35, 36 and 93: the local ``data_root``, ``ann_file``
    and ``data_prefix`` paths of the datasets of ``dataloaders`` (e.g.
    ``'train_dataloader'``) of the config ``cfg`` exist, and so does the
    ``ann_file`` of the evaluators that score them (``val_evaluator``: a
    COCO metric reads its ground truth from it).

    Raises:
        FileNotFoundError: naming the setting and the missing path.
    """
    for key in dataloaders:
        if cfg.get(key) is not None:
            for where, dataset in _dataset_cfgs(cfg[key].dataset,
                                                f'{key}.dataset'):
                _check_dataset_paths(dataset, where)
        evaluator = key.replace('_dataloader', '_evaluator')
        if cfg.get(evaluator) is not None:
            _check_evaluator_paths(cfg[evaluator], evaluator)


def _check_evaluator_paths(evaluators, where: str) -> None:
    """An evaluator's (or each of a list's) local ``ann_file`` exists; a
    JSON one parses (:func:`~.coco.load_json`)."""
    listed = isinstance(evaluators, (list, tuple))
    for i, evaluator in enumerate(evaluators if listed else [evaluators]):
        path = evaluator.get('ann_file')
        if not isinstance(path, str) or '://' in path or \
                evaluator.get('backend_args'):
            continue
        setting = f'{where}[{i}].ann_file' if listed else f'{where}.ann_file'
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{setting} {path!r} does not exist (working directory '
                f'{os.getcwd()}): {evaluator.get("type")} reads the ground '
                f'truth from it. Set it ({cfg_option(setting, path)} with '
                "the right path), usually to the dataset's annotation file.")
        if path.endswith('.json'):
            load_json(path)


def _dataset_cfgs(dataset, where):
    """``(config key, dataset cfg)`` of the datasets inside wrappers."""
    if 'dataset' in dataset:
        yield from _dataset_cfgs(dataset['dataset'], f'{where}.dataset')
    elif 'datasets' in dataset:
        for i, child in enumerate(dataset['datasets']):
            yield from _dataset_cfgs(child, f'{where}.datasets[{i}]')
    else:
        yield where, dataset


def _check_dataset_paths(dataset, where: str) -> None:
    root = dataset.get('data_root') or ''
    if '://' in root or dataset.get('backend_args'):
        return
    if root and not osp.isdir(root):
        raise FileNotFoundError(
            f'{where}.data_root {root!r} does not exist (working directory '
            f'{os.getcwd()}). Put the dataset there or pass '
            f'{cfg_option(where + ".data_root", "/path/to/the data")}.')
    prefix = dataset.get('data_prefix') or {}
    paths = [('ann_file', dataset.get('ann_file'))] + [
        (f'data_prefix.{name}', path) for name, path in (
            prefix.items() if isinstance(prefix, dict) else [('', prefix)])]
    for name, path in paths:
        if isinstance(path, str) and path and '://' not in path:
            full = osp.join(root, path)
            if not osp.exists(full):
                raise FileNotFoundError(
                    f'{where}.{name.rstrip(".")} {path!r} does not exist '
                    f'under data_root {root!r} ({full}).')
