"""Registries of mmhvit.

``MODELS`` is a child of MMEngine's root model registry with scope ``mmhvit``.
Upstream configs (mmseg, mmdet, mmpretrain scopes) reach our modules through
cross-scope names such as ``type='mmhvit.HATNet'``; the first such lookup
imports ``mmhvit.registry`` and, through ``locations``, ``mmhvit.models``.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmhvit',
    locations=['mmhvit.models'])
