"""Key maps from official checkpoints to mmhvit's layout.

Each converter takes the official ``state_dict`` and returns one in the
layout of an mmpretrain ``ImageClassifier`` built from mmhvit modules
(``backbone.*``, ``head.fc.*``), so the result loads into classification
configs directly and into dense configs through ``prefix='backbone.'``.
Every official key must map (or be listed as dropped); anything else raises.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Tuple

import torch

# (official pattern, mmhvit replacement or None to drop it)
KeyRules = List[Tuple[str, Optional[str]]]

HAT_NET_RULES: KeyRules = [
    (r'^patch_embed\.0\.', 'backbone.stem.conv1.'),
    (r'^patch_embed\.1\.', 'backbone.stem.norm.'),
    (r'^patch_embed\.3\.', 'backbone.stem.conv2.'),
    # constructed but never used in the official forward pass
    (r'^blocks\.\d+\.\d+\.attn\.proj_norm\.', None),
    (r'^blocks\.(\d+)\.(\d+)\.attn\.ds_norm\.',
     r'backbone.stages.\1.blocks.\2.attn.pool_norm.'),
    (r'^blocks\.(\d+)\.(\d+)\.attn\.(norm|qkv|proj|grid_norm|q|kv)\.',
     r'backbone.stages.\1.blocks.\2.attn.\3.'),
    (r'^blocks\.(\d+)\.(\d+)\.conv\.conv1\.0\.',
     r'backbone.stages.\1.blocks.\2.ffn.norm.'),
    (r'^blocks\.(\d+)\.(\d+)\.conv\.conv1\.1\.',
     r'backbone.stages.\1.blocks.\2.ffn.fc1.'),
    (r'^blocks\.(\d+)\.(\d+)\.conv\.conv2\.0\.',
     r'backbone.stages.\1.blocks.\2.ffn.dwconv.'),
    (r'^blocks\.(\d+)\.(\d+)\.conv\.conv3\.0\.',
     r'backbone.stages.\1.blocks.\2.ffn.fc2.'),
    (r'^blocks\.(\d+)\.(\d+)\.conv\.conv3\.1\.',
     r'backbone.stages.\1.blocks.\2.ffn.out_norm.'),
    (r'^ds2\.', 'backbone.stages.1.downsample.'),
    (r'^ds3\.', 'backbone.stages.2.downsample.'),
    (r'^ds4\.', 'backbone.stages.3.downsample.'),
    (r'^classifier\.1\.', 'head.fc.'),
]


def convert_with_rules(state_dict: Dict[str, torch.Tensor], rules: KeyRules,
                       model_name: str) -> 'OrderedDict[str, torch.Tensor]':
    """Rename keys by the first matching rule; drop keys mapped to None.

    Raises:
        KeyError: listing the keys no rule matches.
    """
    converted, unknown = OrderedDict(), []
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            if re.match(pattern, key):
                if replacement is not None:
                    converted[re.sub(pattern, replacement, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f'{len(unknown)} keys of the {model_name} checkpoint '
                       f'have no mapping, e.g. {unknown[:5]}.')
    return converted


def convert_hat_net(state_dict):
    """Official HAT-Net (``HAT_Net.py``) -> mmhvit ``HATNet`` classifier."""
    return convert_with_rules(state_dict, HAT_NET_RULES, 'official HAT-Net')


def is_hat_net_official(state_dict) -> bool:
    """Whether ``state_dict`` uses the official HAT-Net key layout."""
    return 'patch_embed.0.weight' in state_dict and any(
        key.startswith('blocks.0.0.attn.') for key in state_dict)


def is_pvt_official(state_dict) -> bool:
    """Whether ``state_dict`` is an official PVT / PVTv2 checkpoint
    (github.com/whai362/PVT), which mmdet's ``pvt_convert`` maps."""
    return 'patch_embed1.proj.weight' in state_dict


def convert_pvt(state_dict):
    """Official PVT / PVTv2 -> mmdet's layout, by mmdet's own converter."""
    from mmdet.models.backbones.pvt import pvt_convert
    return pvt_convert(state_dict)


def is_swin_official(state_dict) -> bool:
    """Whether ``state_dict`` is an official Swin Transformer checkpoint
    (github.com/microsoft/Swin-Transformer), which mmdet's
    ``swin_converter`` maps."""
    return 'patch_embed.proj.weight' in state_dict and any(
        key.startswith('layers.0.blocks.') for key in state_dict)


def convert_swin(state_dict):
    """Official Swin -> mmdet's backbone layout, by mmdet's own converter
    (which prefixes every key with ``backbone.``)."""
    from mmdet.models.backbones.swin import swin_converter
    prefix = 'backbone.'
    return OrderedDict((key[len(prefix):], value)
                       for key, value in swin_converter(state_dict).items())


# Official HLG layer keys -> ours (fudan-zvg/SETR mmseg/models/backbones/
# hlg.py); None drops the tensor.
_HLG_LAYER_RULES = [
    ('down_proj.proj.0.', 'shortcut.conv.'),
    ('down_proj.proj.1.', 'shortcut.bn.'),
    ('mlp.fc1.', 'mlp.fc1.conv.'),
    ('mlp.norm1.', 'mlp.fc1.bn.'),
    ('mlp.fc2.', 'mlp.fc2.conv.'),
    ('mlp.norm2.', 'mlp.fc2.bn.'),
    ('mlp.fc3.', 'mlp.fc3.'),
    ('norm2.', 'mlp_norm.'),
    ('q.', 'attn.q.'),
    ('k.', 'attn.k.'),
    ('v.', 'attn.v.'),
    ('global_attn.proj.', 'attn.proj.'),
]
_HLG_LOCAL_RULES = [
    ('pos_global.', 'attn.global_bias.'),
    ('pos_local.', 'attn.local_bias.'),
    ('norm0.', 'attn.norm.'),
    ('h0_norm.', 'attn.window_norm.'),
    ('aux_q.', 'attn.query_conv.'),
    # LN of the local output before aux_q; paper Eq. 9 (which we follow)
    # convolves V_W instead and has no norm there
    ('norm1.', None),
    *[(f'spatial_smooth.0.{3 * i}.', f'smooth.bottleneck.{i}.conv.')
      for i in range(3)],
    *[(f'spatial_smooth.0.{3 * i + 1}.', f'smooth.bottleneck.{i}.bn.')
      for i in range(3)],
]
_HLG_LAST_STAGE_RULES = [
    ('pos_global.', 'attn.position_bias.'),
    ('norm1.', 'attn.out_norm.'),
    # built but never used in the classification file's last stage
    ('spatial_smooth.', None),
]
HLG_RULES: KeyRules = [
    (r'^s0_conv\.(\d)\.0\.', r'backbone.stem.\1.conv.'),
    (r'^s0_conv\.(\d)\.1\.', r'backbone.stem.\1.bn.'),
    *[(rf'^block{s}\.(\d+)\.' + re.escape(old),
       None if new is None else rf'backbone.stages.{s - 1}.layers.\1.' + new)
      for s in range(1, 5)
      for old, new in (_HLG_LAST_STAGE_RULES if s == 4 else
                       _HLG_LOCAL_RULES) + _HLG_LAYER_RULES],
    (r'^norm_out_(\d)\.', r'backbone.stages.\1.norm.'),
    (r'^norm\.', 'backbone.stages.3.norm.'),
    (r'^head\.', 'head.fc.'),
    # the official SETR-PUP-HLG head: its fusion conv and classifier map;
    # its two transformer layers are of the paper's earlier layer design
    (r'^decode_head\.conv_0\.', 'decode_head.fuse.conv.'),
    (r'^decode_head\.syncbn_fc_0\.', 'decode_head.fuse.bn.'),
    (r'^decode_head\.conv_seg\.', 'decode_head.conv_seg.'),
    (r'^decode_head\.decode_transformer\.', None),
    (r'^(neck|auxiliary_head|bbox_head|rpn_head|roi_head)\.', r'\1.'),
]


def fold_conv_bias_into_bn(state_dict):
    """Drop the bias of every ``<m>.conv`` followed by ``<m>.bn``, moving it
    into the norm's running mean: exact in training (batch statistics cancel
    it) and in evaluation (``BN(x + b)`` with mean ``mu`` equals ``BN(x)``
    with mean ``mu - b``)."""
    for key in [k for k in state_dict if k.endswith('.conv.bias')]:
        mean_key = key[:-len('conv.bias')] + 'bn.running_mean'
        if mean_key in state_dict:
            state_dict[mean_key] = state_dict[mean_key] - state_dict.pop(key)
    return state_dict


def convert_hlg(state_dict):
    """Official HLG (classification, segmentation or detection checkpoint)
    -> mmhvit: ``backbone.*`` plus ``head.fc.*`` or the dense heads."""
    state_dict = OrderedDict(
        (key[len('backbone.'):] if key.startswith('backbone.') else key,
         value) for key, value in state_dict.items())
    return fold_conv_bias_into_bn(
        convert_with_rules(state_dict, HLG_RULES, 'official HLG'))


def is_hlg_official(state_dict) -> bool:
    """Whether ``state_dict`` uses the official HLG key layout."""
    return any(
        re.match(r'^(backbone\.)?block1\.0\.mlp\.fc1\.weight$', key)
        for key in state_dict)


# name -> (detector, converter), used by the CLI and the pretrained loader
OFFICIAL_FORMATS: Dict[str, Tuple[Callable, Callable]] = {
    'hat_net': (is_hat_net_official, convert_hat_net),
    'hlg': (is_hlg_official, convert_hlg),
    'pvt': (is_pvt_official, convert_pvt),
    'swin': (is_swin_official, convert_swin),
}
