"""Config adjustments shared by ``tools/train.py`` and ``tools/test.py``."""
import torch
from mmengine.config import Config
from mmengine.logging import print_log


def setup_launcher(cfg: Config) -> None:
    """Use the gloo backend for a distributed run on a machine without CUDA.

    Upstream runtimes set ``nccl``, which needs GPUs; with gloo the same
    ``tools/dist_train.sh`` runs on CPU processes.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
        print_log('No CUDA device: distributed backend set to gloo.',
                  logger='current')


def enable_visualization(cfg: Config, show_dir=None, show=False,
                         wait_time=2.) -> None:
    """Switch on the upstream visualization hook of the config's scope.

    mmseg, mmdet and mmpretrain name the same switches differently; this
    makes ``--show-dir`` mean "write every test image with its predictions
    into this dir" for all three.
    """
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise KeyError('The config has no default_hooks.visualization, so '
                       'predictions cannot be drawn.')
    hook = hooks['visualization']
    scope = cfg.get('default_scope')
    hook.update(show=show, wait_time=wait_time, interval=1)
    if scope == 'mmpretrain':
        hook.update(enable=True, out_dir=show_dir)
    elif scope == 'mmdet':
        hook.update(draw=True, test_out_dir=show_dir)
    elif scope == 'mmseg':
        hook.update(draw=True)
        if show_dir:
            cfg.visualizer['save_dir'] = show_dir
    else:
        raise ValueError(f'Cannot enable visualization for default_scope '
                         f'{scope!r}; expected mmseg, mmdet or mmpretrain.')
