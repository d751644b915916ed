"""Official SETR checkpoints (github.com/fudan-zvg/SETR, an mmseg 0.x fork)
-> the layout of mmhvit's SETR configs (mmseg 1.x modules), as used by
``tools/model_converters/setr2mmhvit.py``.
* ``VisionTransformer`` / ``VIT_MLA`` backbones -> mmseg's
  ``VisionTransformer`` (fused ``qkv`` -> ``attn.attn.in_proj_*``, same
  q/k/v row order); ``VIT_MLA``'s LayerNorms ``norm_0..3`` and its in-backbone
  ``Conv_MLA`` -> ``MLANeck`` (``neck.*``).
* ``VisionTransformerUpHead`` (Naive, PUP and their auxiliary heads) ->
  ``SETRUPHead``; the last ``conv_*`` is the classifier (``conv_seg``), the
  bias of every other conv is folded into the following BN's running mean
  (mmseg's convs before a norm have none; exact: BN subtracts a mean).
* ``VIT_MLAHead`` -> mmhvit's ``SETRMLAHead`` (mmseg's with the official
  3x3 classifier: ``decode_head.cls`` -> ``decode_head.conv_seg``);
  ``VIT_MLA_AUXIHead`` (256 channels) -> ``FCNHead`` without convs (its
  classifier gets a zero bias).
* Dropped: every official ``conv_seg`` (built by mmseg 0.x's
  ``BaseDecodeHead`` but never used by the SETR heads).
* ``backbone.pos_embed`` is stored at the fine-tuning crop (1 + (crop/16)^2
  tokens); ``--crop`` resizes its patch part to another crop (the class-token
  entry is kept), by mmseg's ``VisionTransformer.resize_pos_embed``.

Any other key is an error.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmseg.models.backbones.vit import VisionTransformer

from .ckpt_convert import KeyRules, convert_with_rules, fold_conv_bias_into_bn

HEAD = r'(decode_head|auxiliary_head\.\d+)'

BACKBONE_RULES: KeyRules = [
    (r'^backbone\.patch_embed\.proj\.', 'backbone.patch_embed.projection.'),
    (r'^backbone\.(cls_token|pos_embed)$', r'backbone.\1'),
    (r'^backbone\.blocks\.(\d+)\.norm(1|2)\.', r'backbone.layers.\1.ln\2.'),
    (r'^backbone\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)$',
     r'backbone.layers.\1.attn.attn.in_proj_\2'),
    (r'^backbone\.blocks\.(\d+)\.attn\.proj\.',
     r'backbone.layers.\1.attn.attn.out_proj.'),
    (r'^backbone\.blocks\.(\d+)\.mlp\.fc1\.',
     r'backbone.layers.\1.ffn.layers.0.0.'),
    (r'^backbone\.blocks\.(\d+)\.mlp\.fc2\.',
     r'backbone.layers.\1.ffn.layers.1.'),
    # VIT_MLA: LayerNorm of stream i (layer mla_index[i])
    (r'^backbone\.norm_(\d)\.', r'neck.norm.\1.'),
]


def mla_rules() -> KeyRules:
    """VIT_MLA's ``Conv_MLA`` -> ``MLANeck``, VIT_MLAHead's streams ->
    ``SETRMLAHead``, for streams p2..p5 (layers ``mla_index[0..3]``).

    MLANeck applies its ``feat_extract`` convs deepest stream first; our
    configs feed the head its streams as p2..p5 (``in_index=(3, 2, 1, 0)``).
    """
    rules: KeyRules = []
    for k in range(2, 6):
        stream = k - 2
        rules += [
            (rf'^backbone\.mla\.mla_p{k}_1x1\.0\.',
             f'neck.mla.channel_proj.{stream}.conv.'),
            (rf'^backbone\.mla\.mla_p{k}_1x1\.1\.',
             f'neck.mla.channel_proj.{stream}.bn.'),
            (rf'^backbone\.mla\.mla_p{k}\.0\.',
             f'neck.mla.feat_extract.{3 - stream}.conv.'),
            (rf'^backbone\.mla\.mla_p{k}\.1\.',
             f'neck.mla.feat_extract.{3 - stream}.bn.'),
        ]
        # mlahead.head<k>: conv, BN, ReLU, conv, BN, ReLU
        for official, ours in (('0', '0.conv'), ('1', '0.bn'), ('3', '1.conv'),
                               ('4', '1.bn')):
            rules.append((rf'^decode_head\.mlahead\.head{k}\.{official}\.',
                          f'decode_head.up_convs.{stream}.{ours}.'))
    return rules


HEAD_RULES: KeyRules = [
    # mmseg 0.x BaseDecodeHead's classifier, unused by every SETR head
    (rf'^{HEAD}\.conv_seg\.', None),
    # VIT_MLAHead's 3x3 classifier -> mmhvit.SETRMLAHead's (3x3) conv_seg
    (r'^decode_head\.cls\.', 'decode_head.conv_seg.'),
    (rf'^{HEAD}\.norm\.', r'\1.norm.'),
    (rf'^{HEAD}\.syncbn_fc_(\d)\.', r'\1.up_convs.\2.0.bn.'),
    # the bias is then folded into the BN after the conv
    (rf'^{HEAD}\.conv_(\d)\.', r'\1.up_convs.\2.0.conv.'),
    (r'^auxiliary_head\.(\d+)\.aux\.weight$',
     r'auxiliary_head.\1.conv_seg.weight'),
]


def up_head_classifiers(state_dict: Dict[str, torch.Tensor]) -> Dict[str, int]:
    """Index of the classifier conv of each official VisionTransformerUpHead:
    its last ``conv_*`` (``conv_1`` with num_conv=2, ``conv_4`` with 4); the
    others are followed by a BN (``syncbn_fc_*``)."""
    last: Dict[str, int] = {}
    for key in state_dict:
        match = re.match(rf'^{HEAD}\.conv_(\d)\.weight$', key)
        if match:
            head, index = match.group(1), int(match.group(2))
            last[head] = max(index, last.get(head, -1))
    return last


def resize_pos_embed(pos_embed: torch.Tensor, grid: Tuple[int, int],
                     mode: str) -> torch.Tensor:
    """Resize the patch part of a (1, 1 + s*s, C) position embedding to
    ``grid`` (rows, cols), keeping the class-token entry; a no-op at the same
    size."""
    side = math.isqrt(pos_embed.shape[1] - 1)
    if side * side != pos_embed.shape[1] - 1:
        raise ValueError(f'pos_embed {tuple(pos_embed.shape)} is not a '
                         f'class token plus a square grid')
    if tuple(grid) == (side, side):
        return pos_embed
    return VisionTransformer.resize_pos_embed(pos_embed, tuple(grid),
                                              (side, side), mode)


def convert_setr(state_dict: Dict[str, torch.Tensor],
                 crop: Optional[Sequence[int]] = None,
                 mode: str = 'bilinear') -> 'OrderedDict[str, torch.Tensor]':
    """Official SETR state dict -> mmhvit's SETR configs (mmseg modules).

    Args:
        state_dict: the official ``state_dict`` (``backbone.*``,
            ``decode_head.*``, ``auxiliary_head.<i>.*``).
        crop: (height, width) the position embedding is resized for; None
            keeps the stored (fine-tuning) size.
        mode: interpolation of the position embedding ('bilinear' as the
            official code and our configs, or 'bicubic').

    Raises:
        KeyError: listing keys with no mapping.
    """
    classifiers = up_head_classifiers(state_dict)
    rules = [(rf'^{re.escape(head)}\.conv_{index}\.', f'{head}.conv_seg.')
             for head, index in classifiers.items()]
    rules += BACKBONE_RULES + mla_rules() + HEAD_RULES
    converted = fold_conv_bias_into_bn(
        convert_with_rules(state_dict, rules, 'official SETR'))

    if crop is not None:
        patch = state_dict['backbone.patch_embed.proj.weight'].shape[-1]
        if crop[0] % patch or crop[1] % patch:
            raise ValueError(f'crop {tuple(crop)} is not a multiple of the '
                             f'patch size {patch}')
        converted['backbone.pos_embed'] = resize_pos_embed(
            converted['backbone.pos_embed'],
            (crop[0] // patch, crop[1] // patch), mode)
    # VIT_MLA_AUXIHead's classifier has no bias, FCNHead's conv_seg has one
    for key in list(converted):
        match = re.match(r'^(auxiliary_head\.\d+\.conv_seg)\.weight$', key)
        if match and f'{match.group(1)}.bias' not in converted:
            converted[f'{match.group(1)}.bias'] = converted[key].new_zeros(
                converted[key].shape[0])
    return converted
