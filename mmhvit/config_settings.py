"""One place per data setting: a child config sets the data root, the
classes, the image scale, the crop size or ``reduce_zero_label`` once, as a
top-level variable, and :func:`apply_data_settings` carries each to every
pipeline, head, data preprocessor, dataset and evaluator of the inherited
config that uses it.

mmengine's text configs evaluate a base file before its children, so a
child's new ``num_classes`` or ``scale`` does not reach the pipelines and
heads the base already built from the old values. A child config therefore
ends with one call::

    _base_ = '../../clustr/fpn_clustr-tiny_8xb2-80k_ade20k-512x512.py'
    from mmhvit.config_settings import apply_data_settings  # noqa: E402

    data_root = 'data/my_seg_data'
    classes = ('background', 'circle', 'square', 'triangle')
    scale = (1024, 256)
    crop_size = (256, 256)

    apply_data_settings(globals())  # last line: applies the settings above

The call merges the config's own entries into its ``_base_`` (as mmengine
will) and replaces every entry that depends on a setting the config assigns
by its full, derived value, so the printed config shows each value that
changed. Only pure Python runs at parse time (torch and the OpenMMLab
task packages are not imported; mmengine, which parses the config, is).

What each setting (:data:`SETTINGS`) reaches:

* ``classes`` (or ``num_classes`` alone): ``num_classes`` of every head in
  ``model`` and of mmhvit's label checks in the pipelines; the datasets'
  ``metainfo`` (with ``palette`` when set). A named segmentation dataset
  (ADE20KDataset, ...) becomes mmseg's ``BaseSegDataset`` with the same
  file suffixes and ``reduce_zero_label``, since the named ones accept only
  their own class names.
* ``reduce_zero_label``: the segmentation datasets and every label loader
  that sets it.
* ``scale``: every ``scale`` / ``scales`` of the pipelines' resize
  transforms (test-time augmentation included), in proportion to the base's
  top-level ``scale``, so multi-scale lists keep their ratios.
* ``crop_size``: the train crops, and every ``size`` / ``img_size`` /
  ``crop_size`` of ``model`` equal to the base's crop (data preprocessor,
  ViT position embeddings, sliding-window test, whose stride is scaled
  with it).
* ``data_root``: every dataset, and the evaluators' annotation files under
  the base's data root; an evaluator that reads its dataloader's annotation
  file follows it (a child that sets the dataloaders' ``ann_file`` for
  another layout need not repeat it for the evaluators).
"""
import copy
import os.path as osp
import types

from mmhvit.utils import ConfigError

#: The ``__init__`` defaults (img_suffix, seg_map_suffix, reduce_zero_label)
#: of mmseg's named datasets, kept when :func:`data_settings` turns them into
#: ``BaseSegDataset``.
SEG_DATASET_DEFAULTS = {
    'ADE20KDataset': ('.jpg', '.png', True),
    'CityscapesDataset': ('_leftImg8bit.png', '_gtFine_labelTrainIds.png',
                          False),
    'PascalContextDataset': ('.jpg', '.png', False),
}
_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_PIPELINES = ('train_pipeline', 'test_pipeline', 'tta_pipeline')
_EVALUATORS = ('val_evaluator', 'test_evaluator')


#: The settings :func:`apply_data_settings` carries, by top-level name.
SETTINGS = ('data_root', 'classes', 'palette', 'num_classes',
            'reduce_zero_label', 'scale', 'crop_size')


def apply_data_settings(namespace):
    """Apply the :data:`SETTINGS` a child config assigns to what it
    inherits.

    Args:
        namespace (dict): The config's ``globals()``, with its ``_base_``
            (mmengine's merged base config) and its own entries so far.

    Raises:
        ConfigError: ``scale`` or ``crop_size`` set, but the base has no
            top-level value of it to scale from; ``classes`` and a different
            ``num_classes``; ``classes`` a string, ``scale`` or ``crop_size``
            not a pair of ints (errors.md row 118).
    """
    base = _plain(namespace['_base_'])
    own = {
        k: _plain(v)
        for k, v in namespace.items()
        if not k.startswith('_') and not callable(v)
        and not isinstance(v, types.ModuleType)
    }
    settings = {k: own[k] for k in SETTINGS if k in own}
    classes = settings.get('classes')
    if isinstance(classes, str):
        letters = ', '.join(repr(c) for c in classes[:3])
        raise ConfigError(
            f'classes = {classes!r} is a string, which would make '
            f'{len(classes)} classes ({letters}, ...): write one class as '
            f'({classes!r}, ), with the comma')
    if classes is not None:
        if settings.setdefault('num_classes', len(classes)) != len(classes):
            raise ConfigError(
                f'num_classes={settings["num_classes"]} but '
                f'{len(classes)} classes {tuple(classes)}: set classes '
                'alone (num_classes follows from them)')
        settings['metainfo'] = dict(classes=tuple(classes))
        if settings.get('palette') is not None:
            settings['metainfo']['palette'] = list(settings['palette'])
    for key in ('scale', 'crop_size'):
        if key in settings and key not in base:
            raise ConfigError(
                f'{key} set, but the base config has no top-level {key} '
                'that its pipelines and model use: set the sizes in the '
                'pipelines and model instead, or give the base the variable')
        if key in settings and not _is_size(settings[key]):
            raise ConfigError(
                f'{key} = {settings[key]!r} is not a pair of whole numbers '
                f"like the base's {base[key]!r}")
    merged = _merged(own, base)
    new = {k: v for k, v in settings.items() if k != 'palette'}
    if 'model' in merged:
        new['model'] = _model(merged['model'], base, settings)
    transform = _transform_rule(base, settings)
    for key in _PIPELINES:
        if key in merged:
            new[key] = _walk_pipeline(merged[key], transform)
    for key in _DATALOADERS:
        if key in merged:
            new[key] = _dataloader(merged[key], transform, settings)
    for key in _EVALUATORS:
        if key in merged:
            loader = key.replace('_evaluator', '_dataloader')
            files = (_ann_file(base.get(loader)),
                     _ann_file(new.get(loader, merged.get(loader))))
            new[key] = _evaluator(merged[key], base.get('data_root'),
                                  settings, files)
    # full values: mmengine replaces the base's instead of merging into it
    namespace.update({
        k: dict(v, _delete_=True) if isinstance(v, dict) and k in base else v
        for k, v in new.items()
    })


def _merged(child, base):
    """``child`` merged into ``base`` as mmengine merges a config into its
    base (dicts key by key unless ``_delete_``, everything else replaced).
    """
    if not isinstance(child, dict):
        return child
    if not isinstance(base, dict) or child.get('_delete_'):
        base = {}
    merged = dict(base)
    for key, value in child.items():
        if key != '_delete_':
            merged[key] = _merged(value, base.get(key))
    return merged


def _plain(value):
    """A deep copy of ``value`` with mmengine's ConfigDicts as dicts (so no
    ``_scope_`` key is added when the child config returns them)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return copy.deepcopy(value)


def _model(model, base, settings):
    """``model`` with every head's ``num_classes`` and every size equal to
    the base's crop replaced."""
    old_crop = tuple(base['crop_size']) if 'crop_size' in base else None
    new_crop = settings.get('crop_size')

    def visit(node):
        if isinstance(node, list):
            return [visit(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = {k: visit(v) for k, v in node.items()}
        if 'num_classes' in node and 'num_classes' in settings:
            node['num_classes'] = settings['num_classes']
        if new_crop is None:
            return node
        for key in ('size', 'img_size', 'crop_size'):
            if _is_size(node.get(key)) and tuple(node[key]) == old_crop:
                node[key] = tuple(new_crop)
                if key == 'crop_size' and _is_size(node.get('stride')):
                    node['stride'] = _rescaled(node['stride'], old_crop,
                                               new_crop)
        return node

    return visit(model)


def _transform_rule(base, settings):
    """The function that applies the settings to one transform dict."""
    old_scale = base.get('scale')

    def transform(t):
        t = dict(t)
        if 'num_classes' in t and 'num_classes' in settings:
            t['num_classes'] = settings['num_classes']
        if 'reduce_zero_label' in t and 'reduce_zero_label' in settings:
            t['reduce_zero_label'] = settings['reduce_zero_label']
        if 'scale' in settings and str(t.get('type', '')).endswith('Resize'):
            if _is_size(t.get('scale')):
                t['scale'] = _rescaled(t['scale'], old_scale,
                                       settings['scale'])
            if isinstance(t.get('scales'), list):
                t['scales'] = [
                    _rescaled(s, old_scale, settings['scale'])
                    for s in t['scales']
                ]
        if 'crop_size' in settings and t.get('type') == 'RandomCrop':
            t['crop_size'] = tuple(settings['crop_size'])
        return t

    return transform


def _walk_pipeline(pipeline, transform):
    """Apply ``transform`` to every transform of ``pipeline``, including
    those nested in wrappers (``transforms`` of TestTimeAug, RandomChoice,
    ...; lists of alternatives stay lists)."""
    if isinstance(pipeline, (list, tuple)):
        return [_walk_pipeline(t, transform) for t in pipeline]
    t = transform(pipeline)
    if 'transforms' in t:
        t['transforms'] = _walk_pipeline(t['transforms'], transform)
    return t


def _dataloader(loader, transform, settings):
    loader = dict(loader)
    loader['dataset'] = _dataset(loader['dataset'], transform, settings)
    return loader


def _dataset(dataset, transform, settings):
    """The dataset dict (or a wrapper's inner one) with the settings."""
    dataset = dict(dataset)
    if 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
        dataset['dataset'] = _dataset(dataset['dataset'], transform, settings)
        return dataset
    if 'datasets' in dataset:  # ConcatDataset
        dataset['datasets'] = [
            _dataset(d, transform, settings) for d in dataset['datasets']
        ]
        return dataset
    if 'pipeline' in dataset:
        dataset['pipeline'] = _walk_pipeline(dataset['pipeline'], transform)
    if 'data_root' in settings:
        dataset['data_root'] = settings['data_root']
    if 'metainfo' in settings:
        dataset['metainfo'] = settings['metainfo']
        defaults = SEG_DATASET_DEFAULTS.get(dataset.get('type'))
        if defaults is not None:
            for key, value in zip(
                ('img_suffix', 'seg_map_suffix', 'reduce_zero_label'),
                    defaults):
                dataset.setdefault(key, value)
            dataset['type'] = 'BaseSegDataset'
    if 'reduce_zero_label' in settings and _is_segmentation(dataset):
        dataset['reduce_zero_label'] = settings['reduce_zero_label']
    return dataset


def _is_segmentation(dataset):
    return dataset.get('type') in SEG_DATASET_DEFAULTS or \
        dataset.get('type') == 'BaseSegDataset'


def _evaluator(evaluator, old_root, settings, files=(None, None)):
    """The evaluator (or list of them) with annotation files under the new
    data root; one that reads its dataloader's annotation file
    (``files``: the base's and the config's, with their data roots)
    follows it."""
    if isinstance(evaluator, list):
        return [_evaluator(e, old_root, settings, files) for e in evaluator]
    evaluator = dict(evaluator)
    ann_file = evaluator.get('ann_file')
    if ann_file is not None and ann_file == files[0] and files[1]:
        evaluator['ann_file'] = files[1]
    elif 'data_root' in settings and isinstance(ann_file, str) and \
            old_root and ann_file.startswith(old_root):
        relative = ann_file[len(old_root):].lstrip('/')
        evaluator['ann_file'] = settings['data_root'].rstrip('/') + '/' + \
            relative
    return evaluator


def _ann_file(loader):
    """The annotation file of a dataloader's dataset, joined with its data
    root, or None."""
    dataset = (loader or {}).get('dataset') or {}
    if not isinstance(dataset.get('ann_file'), str) or not dataset[
            'ann_file']:
        return None
    return osp.join(dataset.get('data_root') or '', dataset['ann_file'])


def _is_size(value):
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(v, int) for v in value)


def _rescaled(size, old, new):
    """``size`` scaled by ``new / old`` per side, rounded to pixels."""
    return tuple(
        int(round(s * n / o)) for s, n, o in zip(size, new, old))
