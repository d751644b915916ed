"""ClusTR: clustering-guided self-attention for vision transformers.

Yutong Xie, Jianpeng Zhang, Yong Xia, Anton van den Hengel, Qi Wu,
"ClusTR: Exploring Efficient Self-attention via Clustering for Vision
Transformers" (arXiv:2208.13138). No official code is public.

Keys and values are not computed from every token: the (normalised) block
input is clustered with DPC-KNN into ``N / lambda`` clusters, each cluster is
merged into one token with learned importance weights, and every query
attends to the merged tokens (Eq. 5). With several ratios ``lambda`` per
stage (Table 1: {64, 16}, {16, 4}, {4, 1}, {1}) the attention is multi-scale
(Eqs. 7-8). Queries are never clustered, so every stage outputs a full map.

Readings where the paper is silent (switchable where its ablations need):

- Macro structure: PVTv2's (overlapping patch embeddings 7x7/4 then 3x3/2
  with LayerNorm, pre-norm blocks, FFN with a 3x3 depth-wise conv, a
  LayerNorm at the end of every stage), MLP ratios 8, 8, 4, 4, qkv biases.
  This reproduces the paper's parameter counts (Tab. 2: 11.7 / 22.7 /
  40.2 M) and its single-scale and grid variants (Tabs. 7, 9).
- Clusters are computed once per block on the normalised input ``X`` and
  shared by keys and values (clustering K and V separately would pair
  mismatched keys and values; merging commutes with the linear
  projections). Every ratio has its own key/value projection (``Tab. 9``:
  multi-scale adds 0.9 M to ClusTR-T) and its own importance predictor
  ``w = exp(Linear(X))``, normalised within each cluster (Eq. 3's ``w_i``,
  as in TCFormer). ``M = ceil(N / lambda)`` at any input size; ``lambda = 1``
  uses every token.
- DPC-KNN follows TCFormer (nearest-centre assignment, k = 5); the density
  and distance scores are computed once and serve all ratios of a block.
- ``scale_fusion='concat'`` (default): one softmax over the clusters of all
  ratios, the concatenation of Eq. 7; ``'sum'``: a softmax per ratio and the
  outputs summed, Eq. 8 read literally.
- ``kv_aggregation='grid'``: the grid-based baseline of Tab. 7, a strided
  convolution (kernel = stride = sqrt(lambda)) and LayerNorm per ratio, as
  PVT's spatial-reduction attention.
- ``knn_ratio``: k-NN attention (KVT, Wang et al. 2022), the other sparse
  attention of Tab. 8: each query attends only to the ``ceil(ratio * M)``
  of its ``M`` keys that score highest. Tab. 8 puts it on the grid model
  (same parameters as SRA, 13.2 M); neither paper gives ``k``.
- ``clustering=dict(window_sizes=...)``: cluster within windows of at most
  that many tokens a side. Exact clustering costs O(N^2) time per block
  (N = 67 200 in stage 1 of a COCO image); windows trade that for clusters
  that never cross a window border, which changes results.
"""
import math

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmdet.models.layers import nlc_to_nchw
from mmengine.model import BaseModule, ModuleList
from mmseg.models.backbones.mit import MixFFN
from torch import nn

from mmhvit.registry import MODELS
from ..layers import (TokenClusterer, heads_to_tokens, importance_weight,
                      merge_tokens, one_image_at_a_time, tokens_to_heads)
from .base import (PyramidBackbone, drop_path_rates, init_pvt_weights,
                   stage_layers)


def knn_attention(q, k, v, ratio, dropout_p=0.):
    """Attention of each query to the ``ceil(ratio * M)`` of the ``M`` keys
    with the highest scores (k-NN attention, KVT): ``(B, h, N, d)`` queries,
    ``(B, h, M, d)`` keys and values -> ``(B, h, N, d)``."""
    scores = q @ k.transpose(-2, -1) * q.shape[-1]**-0.5
    kept = max(1, math.ceil(ratio * k.shape[-2]))
    threshold = scores.topk(kept, dim=-1).values[..., -1:]
    weights = scores.masked_fill(scores < threshold, float('-inf')).softmax(-1)
    return F.dropout(weights, dropout_p) @ v


class ClusterAttention(BaseModule):
    """Multi-head multi-scale clustering-guided attention (Eqs. 5-8).

    Args:
        channels (int): Channels ``C``.
        num_heads (int): Heads.
        ratios (Sequence[int]): Reduction ratios ``lambda`` of the keys and
            values; 1 keeps every token.
        clusterer (TokenClusterer): Clusters the tokens.
        scale_fusion (str): ``'concat'`` or ``'sum'`` (module docstring).
        kv_aggregation (str): ``'cluster'`` or ``'grid'``.
        qkv_bias (bool): Biases of the projections.
        norm_cfg (dict): Norm of the grid aggregation.
        attn_drop_rate (float): Dropout of the attention weights.
        proj_drop_rate (float): Dropout after the output projection.
        knn_ratio (float, optional): k-NN attention keeping this share of
            the keys per query (:func:`knn_attention`); None: all keys.
    """

    def __init__(self, channels, num_heads, ratios, clusterer,
                 scale_fusion='concat', kv_aggregation='cluster',
                 qkv_bias=True, norm_cfg=dict(type='LN'), attn_drop_rate=0.,
                 proj_drop_rate=0., knn_ratio=None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if scale_fusion not in ('concat', 'sum'):
            raise ValueError(f"scale_fusion must be 'concat' or 'sum', got "
                             f'{scale_fusion!r}.')
        if kv_aggregation not in ('cluster', 'grid'):
            raise ValueError(f"kv_aggregation must be 'cluster' or 'grid', "
                             f'got {kv_aggregation!r}.')
        self.num_heads, self.ratios = num_heads, tuple(ratios)
        self.clusterer, self.scale_fusion = clusterer, scale_fusion
        if knn_ratio is not None and not 0 < knn_ratio <= 1:
            raise ValueError(f'knn_ratio must be in (0, 1], got {knn_ratio}.')
        self.kv_aggregation, self.knn_ratio = kv_aggregation, knn_ratio
        self.attn_drop_rate = attn_drop_rate
        self.q = nn.Linear(channels, channels, bias=qkv_bias)
        self.kv = ModuleList(
            nn.Linear(channels, 2 * channels, bias=qkv_bias) for _ in ratios)
        reduced = [r for r in ratios if r > 1]
        if kv_aggregation == 'cluster':
            self.score = ModuleList(nn.Linear(channels, 1) for _ in reduced)
        else:
            self.sr = ModuleList(self._grid_reduction(channels, r, norm_cfg)
                                 for r in reduced)
        self.proj = nn.Linear(channels, channels)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    @staticmethod
    def _grid_reduction(channels, ratio, norm_cfg):
        side = math.isqrt(ratio)
        if side * side != ratio:
            raise ValueError(f'Grid aggregation needs square ratios, got '
                             f'{ratio}.')
        return nn.ModuleDict(
            dict(conv=nn.Conv2d(channels, channels, side, side),
                 norm=build_norm_layer(norm_cfg, channels)[1]))

    def _reduced_tokens(self, x, hw):
        """The key/value sources of the ratios > 1, each ``(B, M, C)``."""
        reduced = [r for r in self.ratios if r > 1]
        if self.kv_aggregation == 'grid':
            side = max((sr['conv'].kernel_size[0] for sr in self.sr),
                       default=1)
            if min(hw) < side:
                raise ValueError(
                    f'Grid aggregation pools {side}x{side}-token cells (ratio '
                    f'{side * side}), but this stage map has {hw[0]}x{hw[1]} '
                    'tokens: the input is too small for '
                    "kv_aggregation='grid'.")
            x_map = nlc_to_nchw(x, hw)
            return [sr['norm'](sr['conv'](x_map).flatten(2).transpose(1, 2))
                    for sr in self.sr]
        clusters = self.clusterer(x.detach(), hw, reduced)
        return [
            merge_tokens(x, idx, num, importance_weight(score(x)))[0]
            for (idx, num), score in zip(clusters, self.score)
        ]

    def forward(self, x, hw):
        """(B, N, C) tokens of an ``hw`` map -> (B, N, C)."""
        reduced = iter(self._reduced_tokens(x, hw))
        keys, values = [], []
        for ratio, kv in zip(self.ratios, self.kv):
            k, v = kv(x if ratio == 1 else next(reduced)).chunk(2, dim=-1)
            keys.append(tokens_to_heads(k, self.num_heads))  # (B, h, M_j, d)
            values.append(tokens_to_heads(v, self.num_heads))
        q = tokens_to_heads(self.q(x), self.num_heads)
        if self.scale_fusion == 'concat':
            out = self._attend(q, torch.cat(keys, dim=2),
                               torch.cat(values, dim=2))
        else:
            out = sum(self._attend(q, k, v) for k, v in zip(keys, values))
        return self.proj_drop(self.proj(heads_to_tokens(out)))  # (B, N, C)

    def _attend(self, q, k, v):
        dropout = self.attn_drop_rate if self.training else 0.
        if self.knn_ratio is None:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return knn_attention(q, k, v, self.knn_ratio, dropout)


class ClusTRBlock(BaseModule):
    """``z' = z + Attn(LN(z))``, ``z = z' + FFN(LN(z'))`` (Eq. 9)."""

    def __init__(self, channels, num_heads, ratios, mlp_ratio, clusterer,
                 scale_fusion, kv_aggregation, qkv_bias, norm_cfg, drop_rate,
                 attn_drop_rate, drop_path_rate, knn_ratio=None,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, channels)[1]
        self.attn = ClusterAttention(channels, num_heads, ratios, clusterer,
                                     scale_fusion, kv_aggregation, qkv_bias,
                                     norm_cfg, attn_drop_rate, drop_rate,
                                     knn_ratio)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.ffn = MixFFN(
            channels, channels * mlp_ratio, ffn_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate))
        self.drop_path = nn.Identity() if drop_path_rate == 0 else \
            self.ffn.dropout_layer

    def _forward(self, x, hw):
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return self.ffn(self.norm2(x), hw, identity=x)

    def forward(self, x, hw):
        """(B, N, C) -> (B, N, C)."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, hw, use_reentrant=False)
        return self._forward(x, hw)


class ClusTRStage(BaseModule):
    """A stage's overlapping patch embedding, its blocks, then a
    LayerNorm."""

    def __init__(self, patch_embed, blocks, norm, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.patch_embed = patch_embed
        self.blocks = ModuleList(blocks)
        self.norm = norm

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C, H', W'), contiguous (mmdet's
        ``nlc_to_nchw`` copies; mmseg's returns a channels-last view, which
        mmcv's RoIAlign misreads)."""
        x, hw = self.patch_embed(x)  # (B, N, C)
        for block in self.blocks:
            x = block(x, hw)
        return nlc_to_nchw(self.norm(x), hw)


# lambda of every stage, the same in all archs (Tab. 1)
TAB1_RATIOS = ((64, 16), (16, 4), (4, 1), (1, ))


@MODELS.register_module()
class ClusTR(PyramidBackbone):
    """ClusTR backbone (paper Tab. 1), see the module docstring.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (or ``'t'``,
            ``'s'``, ``'b'``), or a dict with the keys of the
            :attr:`arch_zoo` entries.
        in_channels (int): Image channels.
        reduction_ratios (Sequence[Sequence[int]], optional): ``lambda`` of
            every stage, overriding the arch's ``{64, 16}, {16, 4}, {4, 1},
            {1}`` (e.g. ``((64,), (16,), (4,), (1,))`` for the single-scale
            ablation of Tab. 9).
        scale_fusion (str): ``'concat'`` or ``'sum'``.
        kv_aggregation (str): ``'cluster'`` or ``'grid'`` (Tab. 7).
        knn_ratio (float, optional): k-NN attention keeping this share of
            each query's keys (Tab. 8); None: every key.
        clustering (dict): ``method`` (``'dpc_knn'`` or ``'kmeans'``), ``k``,
            ``num_iters`` (K-means) and ``window_sizes`` (one per stage,
            None = whole map) of :class:`TokenClusterer`.
        out_indices (Sequence[int]): Output stages.
        drop_rate (float): Dropout after attention and in the FFN.
        attn_drop_rate (float): Dropout of attention weights.
        drop_path_rate (float): Stochastic depth, rising linearly from 0.
        norm_cfg (dict): LayerNorm config.
        frozen_stages (int): ``0`` freezes the first patch embedding,
            ``i > 0`` the first ``i`` stages.
        norm_eval (bool): Keep BN layers in eval mode.
        with_cp (bool): Gradient checkpointing of every block.
        eval_per_image (bool): In eval mode, run the images of a batch one
            at a time (default), so that each image's clusters, and so its
            features, are exactly those it gets alone; ``False`` runs the
            batch at once, faster but with clusters that can change with
            the batch (:func:`~mmhvit.models.layers.one_image_at_a_time`
            states the cost).
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', ...)``.

    Example:
        >>> import torch
        >>> from mmhvit.models import ClusTR
        >>> model = ClusTR(arch='tiny').eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 100, 150))]
        [(1, 64, 25, 38), (1, 128, 13, 19), (1, 256, 7, 10), (1, 512, 4, 5)]
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'],
                        {'embed_dims':       (64, 128, 256, 512),
                         'depths':           (1, 2, 6, 1),
                         'num_heads':        (1, 2, 4, 8),
                         'mlp_ratios':       (8, 8, 4, 4),
                         'reduction_ratios': TAB1_RATIOS}),
        **dict.fromkeys(['s', 'small'],
                        {'embed_dims':       (64, 128, 256, 512),
                         'depths':           (3, 5, 13, 2),
                         'num_heads':        (1, 2, 4, 8),
                         'mlp_ratios':       (8, 8, 4, 4),
                         'reduction_ratios': TAB1_RATIOS}),
        **dict.fromkeys(['b', 'base'],
                        {'embed_dims':       (64, 128, 320, 512),
                         'depths':           (3, 5, 18, 3),
                         'num_heads':        (1, 2, 5, 8),
                         'mlp_ratios':       (8, 8, 4, 4),
                         'reduction_ratios': TAB1_RATIOS}),
    }  # yapf: enable
    num_stages = 4

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 reduction_ratios=None,
                 scale_fusion='concat',
                 kv_aggregation='cluster',
                 knn_ratio=None,
                 clustering=dict(method='dpc_knn', k=5),
                 out_indices=(0, 1, 2, 3),
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.,
                 norm_cfg=dict(type='LN', eps=1e-6),
                 frozen_stages=-1,
                 norm_eval=False,
                 with_cp=False,
                 eval_per_image=True,
                 init_cfg=None):
        super().__init__(self.num_stages, out_indices, frozen_stages,
                         norm_eval, init_cfg)
        clustering = dict(clustering)
        arch = self.arch_settings(
            arch, reduction_ratios=reduction_ratios,
            window_sizes=clustering.pop('window_sizes',
                                        (None, ) * self.num_stages))
        self.embed_dims = arch['embed_dims']
        self.eval_per_image = eval_per_image

        rates = drop_path_rates(drop_path_rate, arch['depths'])
        self.stages = ModuleList()
        in_dims = [in_channels, *self.embed_dims[:-1]]
        for i, channels in enumerate(self.embed_dims):
            patch_size, stride = (7, 4) if i == 0 else (3, 2)
            patch_embed = PatchEmbed(
                in_dims[i], channels, kernel_size=patch_size, stride=stride,
                padding=patch_size // 2, norm_cfg=norm_cfg)
            clusterer = TokenClusterer(window_size=arch['window_sizes'][i],
                                       **clustering)
            blocks = [
                ClusTRBlock(channels, num_heads=arch['num_heads'][i],
                            ratios=arch['reduction_ratios'][i],
                            mlp_ratio=arch['mlp_ratios'][i],
                            clusterer=clusterer, scale_fusion=scale_fusion,
                            kv_aggregation=kv_aggregation, qkv_bias=qkv_bias,
                            norm_cfg=norm_cfg, drop_rate=drop_rate,
                            attn_drop_rate=attn_drop_rate,
                            drop_path_rate=rate, knn_ratio=knn_ratio,
                            with_cp=with_cp)
                for rate in rates[i]
            ]
            norm = build_norm_layer(norm_cfg, channels)[1]
            self.stages.append(ClusTRStage(patch_embed, blocks, norm))
        self._freeze_stages()

    def frozen_modules(self):
        return [self.stages[0].patch_embed, *self.stages]

    def layers_by_depth(self):
        """The first patch embedding (the stem), then the blocks; a patch
        embedding joins the first block of its stage, a stage's norm the
        last."""
        first = self.stages[0].patch_embed
        return [[first]] + [
            layer for stage in self.stages
            for layer in stage_layers(
                stage.blocks,
                [] if stage.patch_embed is first else [stage.patch_embed],
                [stage.norm])
        ]

    def init_default_weights(self):
        """PVTv2's initialisation (:func:`init_pvt_weights`)."""
        init_pvt_weights(self)

    def forward(self, x):
        """(B, 3, H, W) -> tuple of (B, C_i, H/s_i, W/s_i) for out_indices;
        in eval mode, one image at a time unless ``eval_per_image=False``
        (:func:`~mmhvit.models.layers.one_image_at_a_time`)."""
        if self.eval_per_image and not self.training:
            return one_image_at_a_time(self.forward_stages, x)
        return self.forward_stages(x)
