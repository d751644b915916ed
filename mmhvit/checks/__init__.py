"""mmhvit's checks of everything a run reads, the one home of them: each
function names the row of ``docs/errors.md`` it produces; hooks,
transforms, datasets, backbones and tools only call them.

=====================  ====================================================
module                 checks
=====================  ====================================================
:mod:`.config`         ``--cfg-options`` and the data paths of a config,
                       before the runner is built (``tools/``)
:mod:`.model`          backbone arguments as they are built; heads,
                       preprocessor and DDP settings before the first
                       iteration; channels and input sizes at the first
                       forward pass
:mod:`.schedule`       the training schedule's length and validation
                       interval, what a resumed run has left of it, and
                       its learning rate not ending at 0 before it does,
                       before the first iteration
:mod:`.checkpoint`     the checkpoints a run resumes from, loads, tests or
                       fills ``Pretrained`` modules from
:mod:`.datasets`       each built dataset before the first iteration
:mod:`.inventory`      what each dataset found, uses and leaves out, with
                       the reasons (logged before the first iteration)
:mod:`.coco`           COCO annotation files, as they are read
:mod:`.samples`        each sample's files, as the pipeline loads them (in
                       every data-loader worker)
:mod:`.label_scan`     every label map of a dataset
                       (``tools/misc/scan_labels.py``)
=====================  ====================================================

``PreflightCheckHook`` (:mod:`mmhvit.engine.hooks`) calls the checks of a
run before its first iteration. ``mmhvit.models`` imports the submodule
(``mmhvit.checks.model``), not this face: the checkpoint checks use the
model layer's checkpoint matching.
"""
from mmhvit.utils import ConfigError
from .checkpoint import (check_checkpoint_file, check_checkpoint_paths,
                         check_loaded_from, check_pretrained, check_resumable,
                         check_tested, resume_target, snapshot_pretrained)
from .coco import (check_coco_annotations, check_coco_classes,
                   check_coco_content, check_coco_masks)
from .config import (CfgOptionsAction, check_cfg_option, check_data_paths,
                     check_tta, merge_cfg_options)
from .datasets import (check_dataset, check_settings_applied, check_topk,
                       no_samples)
from .model import (MIN_LOADED_RATIO, check_channels,
                    check_checkpointing_under_ddp, check_data_preprocessor,
                    check_frozen_stages, check_init_cfg, check_num_classes,
                    check_out_indices, check_per_stage, install_forward_checks,
                    resolve_arch, unwrap)
from .samples import SampleError
from .schedule import check_schedule

__all__ = [
    'ConfigError', 'SampleError', 'check_checkpoint_file',
    'check_checkpoint_paths', 'check_loaded_from', 'check_pretrained',
    'check_resumable', 'check_tested', 'resume_target', 'snapshot_pretrained',
    'check_coco_annotations', 'check_coco_classes', 'check_coco_content',
    'check_coco_masks',
    'CfgOptionsAction', 'check_cfg_option', 'check_data_paths',
    'check_tta', 'merge_cfg_options', 'check_schedule', 'check_dataset',
    'check_topk', 'check_settings_applied', 'no_samples',
    'MIN_LOADED_RATIO',
    'check_channels', 'check_checkpointing_under_ddp',
    'check_data_preprocessor', 'check_frozen_stages', 'check_init_cfg',
    'check_num_classes', 'check_out_indices', 'check_per_stage',
    'install_forward_checks', 'resolve_arch', 'unwrap'
]
