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


# name -> (detector, converter), used by the CLI and the pretrained loader
OFFICIAL_FORMATS: Dict[str, Tuple[Callable, Callable]] = {
    'hat_net': (is_hat_net_official, convert_hat_net),
    'pvt': (is_pvt_official, convert_pvt),
}
