"""Registries of mmhvit, children of MMEngine's root registries with scope
``mmhvit``.

Upstream configs (mmseg, mmdet, mmpretrain scopes) reach our modules through
cross-scope names such as ``type='mmhvit.HATNet'`` (a backbone),
``'mmhvit.PreflightCheckHook'`` (a hook), ``'mmhvit.CheckedCocoDataset'``
(a dataset) or ``'mmhvit.CheckedLoadSegAnnotations'`` (a data transform);
the first such lookup imports ``mmhvit.registry`` and, through
``locations``, the package that registers the module.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmhvit',
    locations=['mmhvit.models'])
HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope='mmhvit',
    locations=['mmhvit.engine', 'mmhvit.visualization'])
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, scope='mmhvit', locations=['mmhvit.engine'])
METRICS = Registry(
    'metric',
    parent=MMENGINE_METRICS,
    scope='mmhvit',
    locations=['mmhvit.evaluation'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmhvit',
    locations=['mmhvit.engine'])
RUNNERS = Registry(
    'runner',
    parent=MMENGINE_RUNNERS,
    scope='mmhvit',
    locations=['mmhvit.engine'])
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope='mmhvit',
    locations=['mmhvit.datasets'])
DATASETS = Registry(
    'dataset',
    parent=MMENGINE_DATASETS,
    scope='mmhvit',
    locations=['mmhvit.datasets'])
