"""PVT v1 and PVTv2 with HAFA, in mmdet's module layout."""
import math
import re
from typing import Dict, Iterable

from mmcv.cnn import build_norm_layer
from mmdet.models.backbones.pvt import (AbsolutePositionEmbedding,
                                        PVTEncoderLayer,
                                        SpatialReductionAttention)
from mmdet.models.layers import PatchEmbed
from mmengine.model import ModuleList
from torch import nn

from mmhvit.registry import MODELS
from ...layers import swap_classes
from ..base import drop_path_rates, init_pvt_weights
from .attention import SDPASpatialReductionAttention
from .backbone import HAFABackbone
from .clustered_blocks import ClusteredPVTLayer


def skip_position_embeddings(state_dict: Dict, stages: Iterable[int]) -> Dict:
    """A plain PVT checkpoint for stages without a position embedding: where
    the checkpoint has one (``layers.i.1.0``), it is left out and the
    stage's encoder layers move up by one."""
    for i in stages:
        prefix = f'layers.{i}.1.'
        if prefix + '0.pos_embed' not in state_dict:
            continue
        pattern = re.compile(re.escape(prefix) + r'(\d+)\.(.*)')
        adapted = {}
        for key, value in state_dict.items():
            match = pattern.fullmatch(key)
            if match is None:
                adapted[key] = value
            elif match[1] != '0':
                adapted[f'{prefix}{int(match[1]) - 1}.{match[2]}'] = value
        state_dict = adapted
    return state_dict


@MODELS.register_module()
class PVTHAFA(HAFABackbone):
    """PVT v1 with HAFA (HAFA Tabs. 1-5, supplement Tab. 1), in the module
    layout of mmdet's ``PyramidVisionTransformer`` (``layers.i`` = patch
    embedding or aggregation, encoder layers, norm) plus
    ``kv_projections``. The attention of mmdet's encoder layers is computed
    by ``scaled_dot_product_attention`` (``SDPASpatialReductionAttention``
    of ``hafa/attention.py``: same parameters and outputs, no attention map
    kept for backward).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``,
            ``'large'`` (PVT's depths), or a dict with ``embed_dims`` (of
            one head), ``num_layers`` and ``num_heads``.
        in_channels (int): Image channels.
        pretrain_img_size (int): Image size of the position embeddings.
        strides (Sequence[int]): Downsampling of each stage.
        sr_ratios (Sequence[int]): Spatial reduction of the attention.
        mlp_ratios (Sequence[int]): FFN expansion.
        qkv_bias (bool): Biases of the attention projections.
        drop_rate (float): Dropout after attention and in the FFN.
        attn_drop_rate (float): Dropout of the attention weights.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            (mmdet's default 0.1).
        act_cfg (dict): FFN activation.
        norm_cfg (dict): Norm config (mmdet PVT's default).
        **kwargs: The HAFA options ``aggregations``, ``laa_kernel``,
            ``clustering``, ``num_clusters``, ``sia_clustering``
            (:class:`AggregationPlan`), ``with_cp``, ``eval_per_image``,
            ``out_indices``, ``frozen_stages``, ``norm_eval``, ``init_cfg``
            (:class:`HAFABackbone`); ``init_cfg=dict(type='Pretrained',
            checkpoint=..., prefix=...)`` also converts official PVT
            checkpoints.
    """
    # yapf: disable
    arch_zoo = {
        'tiny':   {'embed_dims': 64,
                   'num_layers': [2, 2,  2, 2],
                   'num_heads':  [1, 2,  5, 8]},
        'small':  {'embed_dims': 64,
                   'num_layers': [3, 4,  6, 3],
                   'num_heads':  [1, 2,  5, 8]},
        'medium': {'embed_dims': 64,
                   'num_layers': [3, 4, 18, 3],
                   'num_heads':  [1, 2,  5, 8]},
        'large':  {'embed_dims': 64,
                   'num_layers': [3, 8, 27, 3],
                   'num_heads':  [1, 2,  5, 8]},
    }  # yapf: enable
    default_arch = 'tiny'
    official_format = 'pvt'
    # PVT v1: 2x2 patch embeddings without padding, position embeddings, no
    # norm after a stage, a plain FFN
    patch_sizes = (4, 2, 2, 2)
    paddings = (0, 0, 0, 0)
    use_abs_pos_embed = True
    norm_after_stage = False
    use_conv_ffn = False

    def __init__(self,
                 arch=None,
                 in_channels=3,
                 pretrain_img_size=224,
                 strides=(4, 2, 2, 2),
                 sr_ratios=(8, 4, 2, 1),
                 mlp_ratios=(8, 8, 4, 4),
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 act_cfg=dict(type='GELU'),
                 norm_cfg=dict(type='LN', eps=1e-6),
                 **kwargs):
        super().__init__(**kwargs)
        arch = self.arch_settings(arch or self.default_arch, strides=strides,
                                  sr_ratios=sr_ratios, mlp_ratios=mlp_ratios)
        heads, self.strides = arch['num_heads'], arch['strides']
        self.embed_dims = [arch['embed_dims'] * h for h in heads]
        rates = drop_path_rates(drop_path_rate, arch['num_layers'])

        self.layers = ModuleList()
        in_dims = [in_channels, *self.embed_dims[:-1]]
        for i, channels in enumerate(self.embed_dims):
            layer_type = self.block_type(i, channels, arch['num_layers'][i],
                                         PVTEncoderLayer, ClusteredPVTLayer)
            blocks = [
                layer_type(embed_dims=channels, num_heads=heads[i],
                           feedforward_channels=arch['mlp_ratios'][i] *
                           channels, drop_rate=drop_rate,
                           attn_drop_rate=attn_drop_rate, drop_path_rate=rate,
                           qkv_bias=qkv_bias, act_cfg=act_cfg,
                           norm_cfg=norm_cfg, sr_ratio=arch['sr_ratios'][i],
                           use_conv_ffn=self.use_conv_ffn)
                for rate in rates[i]
            ]
            self.layers.append(
                self._stage(i, in_dims[i], channels, blocks, norm_cfg,
                            pretrain_img_size, drop_rate))
        swap_classes(self.layers, {
            SpatialReductionAttention: SDPASpatialReductionAttention})
        self._freeze_stages()

    def _stage(self, i, in_channels, channels, blocks, norm_cfg,
               pretrain_img_size, drop_rate):
        """``layers.i``: the aggregation, the blocks after PVT v1's position
        embedding (none after SIA), the norm (PVTv2's; PVT v1 has none)."""
        if self.use_abs_pos_embed and not self.plan.clustered(i):
            side = pretrain_img_size // math.prod(self.patch_sizes[:i + 1])
            blocks.insert(0, AbsolutePositionEmbedding(side, channels,
                                                       drop_rate=drop_rate))
        norm = build_norm_layer(norm_cfg, channels)[1] \
            if self.norm_after_stage else nn.Identity()
        aggregation = self.plan.build(i, in_channels, channels,
                                      self.strides[i], norm_cfg, PatchEmbed,
                                      kernel_size=self.patch_sizes[i],
                                      padding=self.paddings[i])
        return ModuleList([aggregation, ModuleList(blocks), norm])

    def stage_parts(self, stage):
        return tuple(self.layers[stage])

    def frozen_modules(self):
        return [self.layers[0][0], *self.layers]

    def init_plain_weights(self):
        """mmdet's PVT initialisation: truncated-normal linears, unit
        norms, fan-out normal convolutions, truncated-normal position
        embeddings."""
        init_pvt_weights(self)
        for module in self.modules():
            if isinstance(module, AbsolutePositionEmbedding):
                module.init_weights()

    def adapt_checkpoint(self, state_dict):
        """Plain PVT checkpoints start every stage with its position
        embedding; a stage after SIA has none
        (:func:`skip_position_embeddings`)."""
        return skip_position_embeddings(
            state_dict,
            [i for i in range(self.num_stages) if self.plan.clustered(i)])


@MODELS.register_module()
class PVTv2HAFA(PVTHAFA):
    """PVTv2 with HAFA (HAFA Tabs. 4 and 6), in the layout of mmdet's
    ``PyramidVisionTransformerV2``. Arguments as :class:`PVTHAFA`; ``arch``
    is ``'b0'`` ... ``'b4'``. A zero-offset 3x3 LAA is exactly PVTv2's own
    overlapping patch embedding."""
    # B1-B4 have the depths of PVT's Tiny-Large
    # yapf: disable
    arch_zoo = {
        'b0': {'embed_dims': 32,
               'num_layers': [2, 2,  2, 2],
               'num_heads':  [1, 2,  5, 8]},
        'b1': {'embed_dims': 64,
               'num_layers': [2, 2,  2, 2],
               'num_heads':  [1, 2,  5, 8]},
        'b2': {'embed_dims': 64,
               'num_layers': [3, 4,  6, 3],
               'num_heads':  [1, 2,  5, 8]},
        'b3': {'embed_dims': 64,
               'num_layers': [3, 4, 18, 3],
               'num_heads':  [1, 2,  5, 8]},
        'b4': {'embed_dims': 64,
               'num_layers': [3, 8, 27, 3],
               'num_heads':  [1, 2,  5, 8]},
    }  # yapf: enable
    default_arch = 'b1'
    patch_sizes = (7, 3, 3, 3)
    paddings = (3, 1, 1, 1)
    use_abs_pos_embed = False
    norm_after_stage = True
    use_conv_ffn = True
