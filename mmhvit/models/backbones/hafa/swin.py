"""Swin Transformer with HAFA, in mmdet's module layout."""
from mmcv.cnn import build_norm_layer
from mmdet.models.backbones.swin import SwinBlock
from mmdet.models.layers import PatchEmbed
from mmengine.model import BaseModule, ModuleList
from torch import nn

from mmhvit.registry import MODELS
from ..base import drop_path_rates, init_trunc_normal_weights
from .aggregation import MapPatchMerging
from .backbone import HAFABackbone
from .clustered_blocks import ClusteredSwinBlock


class SwinStage(BaseModule):
    """Swin blocks and the aggregation after them, in the layout of mmdet's
    ``SwinBlockSequence`` (``blocks``, ``downsample``)."""

    def __init__(self, blocks, downsample=None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.blocks = ModuleList(blocks)
        self.downsample = downsample


@MODELS.register_module()
class SwinHAFA(HAFABackbone):
    """Swin Transformer with HAFA (HAFA Tab. 6), in the module layout of
    mmdet's ``SwinTransformer`` (``patch_embed``, ``stages.i.blocks``,
    ``stages.i.downsample``, ``norm{i}`` for the output stages) plus
    ``kv_projections``: LAA / SIA / patch merging (``'conv'``) at the end
    of stages 1-3.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'`` or ``'base'``, or a dict
            with ``embed_dims`` (of stage 1), ``depths`` and ``num_heads``.
        in_channels (int): Image channels.
        patch_size (int): Side of the first patch embedding.
        window_size (int): Side of the attention windows.
        mlp_ratio (int): FFN expansion.
        strides (Sequence[int]): Downsampling of each stage.
        qkv_bias (bool): Biases of the qkv projections.
        drop_rate, attn_drop_rate, drop_path_rate, act_cfg, norm_cfg: As
            mmdet's ``SwinTransformer``.
        **kwargs: As :class:`PVTHAFA`; official Swin checkpoints are
            converted while loading.
    """
    # yapf: disable
    arch_zoo = {
        'tiny':  {'embed_dims': 96,
                  'depths':     (2, 2,  6,  2),
                  'num_heads':  (3, 6, 12, 24)},
        'small': {'embed_dims': 96,
                  'depths':     (2, 2, 18,  2),
                  'num_heads':  (3, 6, 12, 24)},
        'base':  {'embed_dims': 128,
                  'depths':     (2, 2, 18,  2),
                  'num_heads':  (4, 8, 16, 32)},
    }  # yapf: enable
    official_format = 'swin'
    norm_feeds_forward = False

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 patch_size=4,
                 window_size=7,
                 mlp_ratio=4,
                 strides=(4, 2, 2, 2),
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 act_cfg=dict(type='GELU'),
                 norm_cfg=dict(type='LN'),
                 **kwargs):
        super().__init__(**kwargs)
        arch = self.arch_settings(arch, strides=strides)
        depths, heads, strides = (arch['depths'], arch['num_heads'],
                                  arch['strides'])
        self.embed_dims = [
            arch['embed_dims'] * 2**i for i in range(self.num_stages)
        ]
        rates = drop_path_rates(drop_path_rate, depths)

        self.patch_embed = PatchEmbed(
            in_channels, self.embed_dims[0], kernel_size=patch_size,
            stride=strides[0], norm_cfg=norm_cfg)
        self.drop_after_pos = nn.Dropout(drop_rate)
        self.stages = ModuleList()
        for i, channels in enumerate(self.embed_dims):
            downsample = self._downsample(i, strides, norm_cfg)
            block_type = self.block_type(i, channels, depths[i], SwinBlock,
                                         ClusteredSwinBlock)
            blocks = [
                block_type(embed_dims=channels, num_heads=heads[i],
                           feedforward_channels=mlp_ratio * channels,
                           window_size=window_size, shift=j % 2 == 1,
                           qkv_bias=qkv_bias, drop_rate=drop_rate,
                           attn_drop_rate=attn_drop_rate, drop_path_rate=rate,
                           act_cfg=act_cfg, norm_cfg=norm_cfg)
                for j, rate in enumerate(rates[i])
            ]
            self.stages.append(SwinStage(blocks, downsample))
        for i in self.out_indices:
            self.add_module(f'norm{i}',
                            build_norm_layer(norm_cfg, self.embed_dims[i])[1])
        self._freeze_stages()

    def _downsample(self, i, strides, norm_cfg):
        """``stages.i.downsample``: the aggregation in front of stage
        ``i + 1`` (Swin's own patch merging for ``'conv'``); none after the
        last stage."""
        if i + 1 == self.num_stages:
            return None
        return self.plan.build(i + 1, self.embed_dims[i],
                               self.embed_dims[i + 1], strides[i + 1],
                               norm_cfg, MapPatchMerging)

    def _embed(self, image):
        """The patch embedding, stage 1's aggregation."""
        tokens, hw = self.patch_embed(image)
        return self.drop_after_pos(tokens), hw

    def stage_parts(self, stage):
        aggregation = self._embed if stage == 0 else \
            self.stages[stage - 1].downsample
        return (aggregation, self.stages[stage].blocks,
                getattr(self, f'norm{stage}', None))

    def frozen_modules(self):
        return [self.patch_embed, *self.stages]

    def init_plain_weights(self):
        """mmdet's Swin initialisation (:func:`init_trunc_normal_weights`)."""
        init_trunc_normal_weights(self)
