"""Options shared by every mmhvit pyramid backbone."""
import math
from typing import Dict, Iterable, List, Sequence, Tuple, Union

from mmengine.model import BaseModule
from mmengine.model.weight_init import (constant_init, normal_init,
                                        trunc_normal_init)
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmhvit.checks.model import (MIN_LOADED_RATIO, check_frozen_stages,
                                 check_init_cfg, check_out_indices,
                                 check_per_stage, resolve_arch)
from ..utils import load_pretrained


def drop_path_rates(rate: float, depths: Sequence[int]) -> List[List[float]]:
    """Stochastic depth rising linearly from 0 to ``rate`` over all blocks,
    split per stage."""
    total = sum(depths)
    rates = [rate * i / max(total - 1, 1) for i in range(total)]
    return [rates[sum(depths[:i]):sum(depths[:i + 1])]
            for i in range(len(depths))]


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


def init_trunc_normal_weights(model: nn.Module) -> None:
    """Truncated-normal linear layers (std 0.02, zero biases) and unit
    LayerNorms; convolutions keep PyTorch's initialisation (HLG's official
    code, mmdet's ``SwinTransformer`` without a checkpoint)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            trunc_normal_init(module, std=.02, bias=0.)
        elif isinstance(module, nn.LayerNorm):
            constant_init(module, val=1., bias=0.)


def stage_layers(blocks: Iterable, front: Sequence[nn.Module] = (),
                 back: Sequence[nn.Module] = ()) -> List[List[nn.Module]]:
    """The layers of one stage for :meth:`PyramidBackbone.layers_by_depth`:
    one per block (a block, or a tuple of the modules that make it), with
    ``front`` (e.g. a downsampling) joining the first and ``back`` (e.g. a
    norm) the last."""
    layers = [list(b) if isinstance(b, (list, tuple)) else [b]
              for b in blocks]
    layers[0][:0] = front
    layers[-1].extend(back)
    return layers


class PyramidBackbone(BaseModule):
    """Base of the four-stage backbones: ``out_indices``, ``frozen_stages``
    and ``norm_eval`` behave as in mmdet's and mmseg's backbones.

    Subclasses read their settings with :meth:`arch_settings`, build their
    layers, then call :meth:`_freeze_stages` at the end of ``__init__``, and
    implement :meth:`frozen_modules`, :meth:`layers_by_depth` and
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
        check_frozen_stages(frozen_stages, num_stages)
        self.out_indices = check_out_indices(out_indices, num_stages)
        self.num_stages = num_stages
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

    # a name of the zoo, or a dict with the keys of its entries
    arch_zoo: Dict[str, Dict] = {}
    official_format = None

    def arch_settings(self, arch: Union[str, Dict],
                      **per_stage) -> Dict[str, object]:
        """The prologue of every constructor: the settings of ``arch`` (a
        name of :attr:`arch_zoo` or a dict with the keys of its entries,
        errors.md rows 1-2), with the per-stage constructor arguments
        ``per_stage`` added (one that is None keeps the arch's value), and
        every per-stage setting, the arch's sequences and ``per_stage``,
        checked to have ``num_stages`` entries (row 3), as lists."""
        settings = resolve_arch(arch, self.arch_zoo, type(self).__name__)
        settings.update((name, value) for name, value in per_stage.items()
                        if value is not None)
        for name, value in settings.items():
            if name in per_stage or isinstance(value, (list, tuple)):
                settings[name] = check_per_stage(name, value,
                                                 self.num_stages)
        return settings

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

    def layers_by_depth(self) -> List[List[nn.Module]]:
        """The modules of each layer depth, input to output: the stem (depth
        0), then one entry per block (:func:`stage_layers`)."""
        raise NotImplementedError

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """The layer depth of a parameter and the number of depths, as
        mmpretrain's backbones (``SwinTransformer``, ``ConvNeXt``) give them
        to its ``LearningRateDecayOptimWrapperConstructor`` (lr scaled by
        ``layer_decay_rate ** (num_layers - 1 - depth)``).

        Depth 0 is the stem, depth ``d`` in ``1 .. sum(depths)`` the
        ``d``-th block (:meth:`layers_by_depth`), and ``num_layers - 1 =
        sum(depths) + 1`` everything else: parameters outside the backbone
        (``param_name`` without ``prefix``: neck, head) and the backbone's
        own outside any layer (output norms).

        Args:
            param_name (str): Name of the parameter, e.g.
                ``'backbone.stages.0.blocks.1.attn.qkv.weight'``.
            prefix (str): The backbone's prefix in ``param_name``, e.g.
                ``'backbone.'``.

        Returns:
            tuple[int, int]: The depth and ``num_layers``.
        """
        layers = self.layers_by_depth()
        num_layers = len(layers) + 1
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        depth_of = {id(param): depth
                    for depth, modules in enumerate(layers)
                    for module in modules for param in module.parameters()}
        param = self.get_parameter(param_name[len(prefix):])
        return depth_of.get(id(param), num_layers - 1), num_layers

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
