"""Importing this module installs :mod:`mmhvit.compat`'s fixes.

Every shipped config names it in ``custom_imports``, so whatever reads a
config gets them, not only ``tools/``: the upstream inferencers
(``MMSegInferencer``, ``DetInferencer``, ``ImageClassificationInferencer``),
``mim train/test``, mmseg's and mmdet's ``tools/`` and a plain
``Runner.from_cfg``. Without them, torch >= 2.6 refuses the checkpoints
mmengine's runner writes (``UnpicklingError: Weights only load failed ...
HistoryBuffer``). :func:`mmhvit.compat.apply` is idempotent and guarded by
the versions it is written for.
"""
from mmhvit import compat

compat.apply()
