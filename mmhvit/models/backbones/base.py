"""Options shared by every mmhvit pyramid backbone."""
import math
from typing import Dict, List, Sequence, Union

from mmengine.model import BaseModule
from mmengine.model.weight_init import (constant_init, normal_init,
                                        trunc_normal_init)
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import load_pretrained
from ..utils.checkpoint import MIN_LOADED_RATIO


def resolve_arch(arch: Union[str, Dict], arch_zoo: Dict[str, Dict],
                 model_name: str) -> Dict:
    """Return the settings of ``arch``: a name of ``arch_zoo`` or a dict
    with the keys of the zoo's entries.

    Raises:
        ValueError: on an unknown name or a dict missing required keys.
    """
    required_keys = next(iter(arch_zoo.values())).keys()
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
            raise ValueError(
                f'Unknown {model_name} arch {arch!r}; choose one of '
                f'{sorted(arch_zoo)} or pass a dict with keys '
                f'{sorted(required_keys)}.')
        return dict(arch_zoo[key])
    if not isinstance(arch, dict):
        raise TypeError(f'{model_name} arch must be a str or a dict, '
                        f'got {type(arch).__name__}.')
    missing = set(required_keys) - set(arch)
    if missing:
        raise ValueError(f'Custom {model_name} arch misses keys '
                         f'{sorted(missing)}.')
    return dict(arch)


def check_per_stage(name: str, values: Sequence, num_stages: int) -> List:
    """Check that a per-stage setting has one entry per stage."""
    values = list(values)
    if len(values) != num_stages:
        raise ValueError(f'{name} needs one value per stage ({num_stages}), '
                         f'got {values}.')
    return values


def drop_path_rates(rate: float, depths: Sequence[int]) -> List[List[float]]:
    """Stochastic depth rising linearly from 0 to ``rate`` over all blocks,
    split per stage."""
    total = sum(depths)
    rates = [rate * i / max(total - 1, 1) for i in range(total)]
    return [rates[sum(depths[:i]):sum(depths[:i + 1])]
            for i in range(len(depths))]


def check_out_indices(out_indices, num_stages: int) -> tuple:
    """``out_indices`` as non-negative stage indices, checked."""
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    indices = []
    for index in out_indices:
        if not -num_stages <= index < num_stages:
            raise ValueError(
                f'out_indices {tuple(out_indices)} out of range: this '
                f'backbone has {num_stages} stages (0..{num_stages - 1}).')
        indices.append(index % num_stages)
    return tuple(indices)


def check_init_cfg(init_cfg) -> None:
    """A ``Pretrained`` ``init_cfg`` names a checkpoint and, optionally, a
    ``min_loaded_ratio`` in [0, 1]."""
    if not (isinstance(init_cfg, dict)
            and init_cfg.get('type') == 'Pretrained'):
        return
    if not init_cfg.get('checkpoint'):
        raise ValueError(f"init_cfg {init_cfg} of type 'Pretrained' needs a "
                         "'checkpoint' (path or URL).")
    ratio = init_cfg.get('min_loaded_ratio', MIN_LOADED_RATIO)
    if not 0 <= ratio <= 1:
        raise ValueError(f'init_cfg.min_loaded_ratio must be in [0, 1], got '
                         f'{ratio}.')


def freeze(module: nn.Module) -> None:
    """Eval mode and no gradients for ``module``."""
    module.eval()
    for param in module.parameters():
        param.requires_grad = False


def init_pvt_weights(model: nn.Module) -> None:
    """PVT's initialisation (mmdet's ``PyramidVisionTransformer`` and PVTv2
    without a checkpoint): truncated-normal linear layers (std 0.02), unit
    norms, fan-out normal convolutions, zero biases."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            trunc_normal_init(module, std=.02, bias=0.)
        elif isinstance(module, (nn.LayerNorm, nn.GroupNorm, _BatchNorm)):
            constant_init(module, val=1., bias=0.)
        elif isinstance(module, nn.Conv2d):
            fan_out = (module.kernel_size[0] * module.kernel_size[1] *
                       module.out_channels // module.groups)
            normal_init(module, mean=0, std=math.sqrt(2.0 / fan_out), bias=0)


class PyramidBackbone(BaseModule):
    """Base of the four-stage backbones: ``out_indices``, ``frozen_stages``
    and ``norm_eval`` behave as in mmdet's and mmseg's backbones.

    Subclasses build their layers, then call :meth:`_freeze_stages` at the end
    of ``__init__``, and implement :meth:`frozen_modules` and
    :meth:`init_default_weights`. ``init_cfg=dict(type='Pretrained',
    checkpoint=..., prefix=...)`` loads through :func:`load_pretrained`, which
    converts checkpoints in the official layout named by
    :attr:`official_format`, maps them with :meth:`adapt_checkpoint` and logs
    what was loaded; it raises when less than ``min_loaded_ratio`` (an
    optional ``init_cfg`` key, default 0.9) of the backbone's parameters were
    loaded.

    Args:
        num_stages (int): Number of stages with outputs.
        out_indices (Sequence[int]): Stages whose outputs are returned, in
            ``[0, num_stages)``; negative indices count from the end.
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stem only,
            ``i > 0`` the stem and the first ``i`` stages (eval mode, no
            gradients).
        norm_eval (bool): Keep batch-norm layers in eval mode while training.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_stages: int,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_init_cfg(init_cfg)
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be in [-1, {num_stages}], '
                             f'got {frozen_stages}.')
        self.out_indices = check_out_indices(out_indices, num_stages)
        self.num_stages = num_stages
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

    official_format = None

    def adapt_checkpoint(self, state_dict: Dict) -> Dict:
        """The tensors of a checkpoint (converted from an official layout,
        prefix stripped) in this backbone's layout; the identity unless a
        family's layout differs from the plain network it extends."""
        return state_dict

    def init_default_weights(self):
        """Initialise from scratch, as the family's official code does."""
        raise NotImplementedError

    def init_weights(self):
        cfg = self.init_cfg
        if cfg is None:
            self.init_default_weights()
        elif isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.init_default_weights()  # for anything the file lacks
            load_pretrained(
                self, cfg['checkpoint'], cfg.get('prefix'),
                self.official_format,
                cfg.get('min_loaded_ratio', MIN_LOADED_RATIO),
                adapt=self.adapt_checkpoint)
        else:
            super().init_weights()

    def frozen_modules(self) -> List[nn.Module]:
        """Modules frozen by ``frozen_stages``: stem first, then stages."""
        raise NotImplementedError

    def _freeze_stages(self):
        for module in self.frozen_modules()[:self.frozen_stages + 1]:
            freeze(module)

    def forward_stages(self, x):
        """Run ``self.stages`` in turn; the outputs of ``out_indices``, in
        NCHW memory whatever the input's (convolutions pass a channels-last
        input's format on, and mmcv's ops read the memory as NCHW)."""
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x.contiguous())
        return tuple(outs)

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
