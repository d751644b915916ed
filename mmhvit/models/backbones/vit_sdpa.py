"""SETR's encoders (SETR/HLG paper Tab. 2: T-Base, T-Large) as mmseg's
``VisionTransformer``, with the attention computed by
``scaled_dot_product_attention``.

mmseg's ViT attends through mmcv's ``MultiheadAttention``, i.e. torch's
``nn.MultiheadAttention`` with ``need_weights=True``: torch then computes
the attention explicitly and keeps the ``N x N`` softmax of every head of
every layer for backward (ViT-L at a 768 x 768 crop: 2 304 tokens, 16
heads, 24 layers, about 8 GB per image in float32). The fused kernels of
``scaled_dot_product_attention`` (flash attention on the CPU, flash or
memory-efficient attention on CUDA) keep the queries, keys, values, output
and one log-sum-exp per row instead. Parameters, their names and the
computation are mmseg's, so checkpoints converted for mmseg's ViT
(``vit2mmseg.py``, ``tools/model_converters/setr2mmhvit.py``) load
unchanged and outputs agree with mmseg's to float rounding.

Each layer also recomputes its cheap steps in backward rather than keeping
their outputs (selective recomputation, Korthikanti et al. 2023): the two
LayerNorms' outputs (from the layer's input and the residual after the
attention, kept anyway) and the FFN activation's output (from fc1's output,
kept by the activation's backward anyway). With SDPA, a layer keeps ``10 C
+ heads`` floats per token for backward instead of mmseg's ``16 C + heads x
N + 4`` (SETR-PUP ViT-L at 768 x 768: 0.297x mmseg's saved activations,
README "Training memory").
"""
from typing import Tuple

import torch.utils.checkpoint as cp
from mmcv.cnn.bricks.transformer import FFN, MultiheadAttention
from mmseg.models.backbones import VisionTransformer
from mmseg.models.backbones.vit import TransformerEncoderLayer

from mmhvit.registry import MODELS
from ..layers import SDPAMultiheadAttention, linear_after, swap_classes


class RecomputingFFN(FFN):
    """mmcv's ``FFN`` (same modules and outputs) whose activations (and
    pre-norm) are recomputed in backward: each linear layer keeps the input
    of the step before it (:func:`~mmhvit.models.layers.linear_after`).
    Where a dropout between the activation and the next linear layer is
    active, that activation is kept as mmcv's."""

    def forward(self, x, identity=None, norm=None):
        """``identity + FFN(x)`` as mmcv's (``identity``: ``x`` unless
        given); with ``norm``, of ``FFN(norm(x))``."""
        identity = x if identity is None else identity
        step = norm
        for fc, activate, drop in self.layers[:-2]:
            hidden = linear_after(step, x, fc.weight, fc.bias)
            if drop.training and drop.p > 0:
                x, step = drop(activate(hidden)), None
            else:  # no dropout: the next linear layer applies activate
                x, step = hidden, activate
        fc, drop = self.layers[-2:]
        out = self.dropout_layer(self.gamma2(drop(
            linear_after(step, x, fc.weight, fc.bias))))
        return identity + out if self.add_identity else out


class SDPAEncoderLayer(TransformerEncoderLayer):
    """mmseg's ViT layer (same modules) passing its pre-norms to the
    attention and the FFN, which recompute them in backward."""

    def forward(self, x):

        def inner_forward(x):
            x = self.attn(x, identity=x, norm=self.norm1)
            return self.ffn(x, identity=x, norm=self.norm2)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner_forward, x, use_reentrant=True)
        return inner_forward(x)


@MODELS.register_module()
class SDPAVisionTransformer(VisionTransformer):
    """mmseg's ``VisionTransformer`` (same arguments, parameters, state
    dict keys, initialisation and outputs) with its attention computed by
    ``scaled_dot_product_attention``; SETR's configs use it as
    ``type='mmhvit.SDPAVisionTransformer'``.

    The modules mmseg builds are kept, only the classes of its layers,
    attentions and FFNs become :class:`SDPAEncoderLayer`,
    :class:`~mmhvit.models.layers.SDPAMultiheadAttention` and
    :class:`RecomputingFFN` (subclasses that add no state), so the
    parameters are created and initialised exactly as mmseg's: the same
    seed gives the same weights.
    """

    # the stem: depth 0 of get_layer_depth
    stem_params = ('cls_token', 'pos_embed', 'patch_embed.', 'ln_pre.')

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        swap_classes(
            self.layers, {
                TransformerEncoderLayer: SDPAEncoderLayer,
                MultiheadAttention: SDPAMultiheadAttention,
                FFN: RecomputingFFN
            })

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """The layer depth of a parameter and the number of depths, for
        mmpretrain's ``LearningRateDecayOptimWrapperConstructor``, as
        mmpretrain's ``VisionTransformer`` gives them (mmseg's ViT has no
        such method): 0 for the class token, position and patch embeddings
        (and the pre-norm, which mmpretrain leaves with the head), ``i + 1``
        for ``layers.i``, and ``num_layers - 1 = len(layers) + 1`` for the
        rest (final norm; neck and head: ``param_name`` without
        ``prefix``)."""
        num_layers = len(self.layers) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith(self.stem_params):
            return 0, num_layers
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers
