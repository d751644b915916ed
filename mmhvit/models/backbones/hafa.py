"""HAFA: hierarchy aware feature aggregation, plugged into mmdet's PVT,
PVTv2 and Swin Transformer.

Yongjie Chen, Hongmin Liu, Haoran Yin, Bin Fan, "Building Vision
Transformers with Hierarchy Aware Feature Aggregation". No
official code is public.

The downsampling step in front of stages 2-4 is chosen per stage
(``aggregations``, HAFA Tab. 4): ``'laa'`` (learned-offset sampling, Sec.
3.2), ``'sia'`` (clustering, Sec. 3.3) or ``'conv'`` (the network's own
strided patch embedding). The default is LAA, LAA, SIA (Fig. 2). Readings
where the paper is silent:

- LAA is a deformable convolution whose offsets start at zero, with a 3x3
  kernel by default (``laa_kernel``; 3x3 fits the paper's parameter counts
  better than the 2x2 of PVT v1's patch embedding), followed by the
  stage's LayerNorm.
- SIA is TCFormer's clustering token merging (3x3 stride-2 conv + linear
  skip + LayerNorm, DPC-KNN, importance-weighted merge) with as many
  clusters as the downsampled map has pixels (49 at 224x224) unless
  ``num_clusters`` is set. Only the queries are clustered
  (``sia_clustering='q'``): every block of the stage attends from the
  merged tokens to the tokens of the downsampled map (un-clustered, as the
  plain network's stage would have them, hence unchanged GFLOPs), whose
  keys and values get CvT's convolutional projection (3x3 depth-wise conv
  + BN) as implicit positional encoding; the stage has no absolute position
  embedding. ``sia_clustering='qkv'`` (Tab. 5) attends among the merged
  tokens.
- A clustered stage's map (for FPN and the next stage) is rebuilt through
  the dictionary: every pixel of the downsampled map takes the mean of the
  merged tokens of the cells it covers.
- Depth-wise convolutions of PVTv2's FFN run on that map and are read back
  at the tokens.
- In Swin, LAA and SIA replace the patch merging at the end of stages 1-3.
  A clustered stage's blocks attend globally (their window partition and
  relative position bias have no meaning for clusters, and at 224x224 the
  last stage is a single window anyway), with the blocks' own projections.
"""
import torch.nn.functional as F
from mmdet.models.backbones.pvt import (AbsolutePositionEmbedding,
                                        PyramidVisionTransformer,
                                        PyramidVisionTransformerV2)
from mmdet.models.backbones.swin import SwinTransformer
from mmengine.model import ModuleDict, ModuleList
from torch import nn

from mmhvit.registry import MODELS
from ..layers import (ConvProjection, LocalAdaptiveAggregation,
                      SemanticInformationAggregation, TokenClusterer,
                      TokenState, heads_to_tokens, map2token, tokens_to_heads)
from ..utils import load_pretrained
from .base import check_out_indices, check_per_stage, resolve_arch

AGGREGATIONS = ('laa', 'sia', 'conv')


def _kv_projections(channels, num_blocks):
    """CvT projections of the keys and values of a clustered stage."""
    return ModuleList(
        ModuleDict(dict(key=ConvProjection(channels),
                        value=ConvProjection(channels)))
        for _ in range(num_blocks))


def _projections_of(backbone, stage, num_blocks):
    """The stage's key/value projections; None per block for Q-K-V
    clustering, which has none."""
    projections = backbone.kv_projections
    return projections[str(stage)] if str(stage) in projections else [
        None
    ] * num_blocks


def _zero_laa_offsets(backbone):
    for module in backbone.modules():
        if isinstance(module, LocalAdaptiveAggregation):
            module.zero_offsets()


def _attend(layer, queries, keys, values):
    """``layer``'s multi-head attention (seq-first inside), residual and
    dropouts; inputs batch-first ``(B, L, C)``."""
    attn = layer.attn
    out = attn.attn(query=queries.transpose(0, 1), key=keys.transpose(0, 1),
                    value=values.transpose(0, 1))[0].transpose(0, 1)
    return attn.dropout_layer(attn.proj_drop(out))


def _reduce(attn, x, state: TokenState):
    """The spatial reduction of PVT's attention, on any token state."""
    if attn.sr_ratio == 1:
        return x
    reduced = attn.sr(state.replace(x).to_map())  # (B, C, H/r, W/r)
    return attn.norm(reduced.flatten(2).transpose(1, 2))


def _ffn(ffn, x, state: TokenState, identity):
    """mmdet's MixFFN on tokens that need not form a grid: 1x1 convs act
    per token; a depth-wise conv runs on the state's map and is read back
    at the tokens."""
    hidden = x.transpose(1, 2)[..., None]  # (B, C, N, 1): per-token "map"
    for layer in ffn.layers:
        if isinstance(layer, nn.Conv2d) and layer.kernel_size != (1, 1):
            tokens = hidden[..., 0].transpose(1, 2)  # (B, N, C)
            mapped = layer(state.replace(tokens).to_map())
            hidden = map2token(mapped, state.tokens).transpose(1, 2)[..., None]
        else:
            hidden = layer(hidden)
    return identity + ffn.dropout_layer(hidden[..., 0].transpose(1, 2))


class HAFAMixin:
    """Turns an mmdet PVT-family backbone into its HAFA version; see
    :class:`PVTHAFA` for the arguments."""
    default_arch = None

    def __init__(self, arch=None, aggregations=('laa', 'laa', 'sia'),
                 laa_kernel=3, clustering=dict(method='dpc_knn', k=5),
                 num_clusters=None, sia_clustering='q',
                 out_indices=(0, 1, 2, 3),
                 norm_cfg=dict(type='LN', eps=1e-6), init_cfg=None,
                 **kwargs):
        name = type(self).__name__
        super().__init__(
            **_hafa_kwargs(arch or self.default_arch, self.arch_zoo, name,
                           out_indices),
            norm_cfg=norm_cfg, init_cfg=init_cfg, **kwargs)
        self._init_hafa(aggregations, laa_kernel, clustering, num_clusters,
                        sia_clustering, norm_cfg)

    def _init_hafa(self, aggregations, laa_kernel, clustering, num_clusters,
                   sia_clustering, norm_cfg):
        self.aggregations = ('conv', *check_per_stage(
            'aggregations', aggregations, self.num_stages - 1))
        if sia_clustering not in ('q', 'qkv'):
            raise ValueError(f"sia_clustering must be 'q' or 'qkv', got "
                             f'{sia_clustering!r}.')
        self.kv_projections = ModuleDict()
        dims = [self.embed_dims * heads for heads in self.num_heads]
        for i, kind in enumerate(self.aggregations[1:], start=1):
            if kind not in AGGREGATIONS:
                raise ValueError(f'Unknown aggregation {kind!r} for stage '
                                 f'{i + 1}; choose from {AGGREGATIONS}.')
            _, blocks, _ = self.layers[i]
            if kind == 'laa':
                self.layers[i][0] = LocalAdaptiveAggregation(
                    dims[i - 1], dims[i], laa_kernel, self.strides[i],
                    norm_cfg)
            elif kind == 'sia':
                self.layers[i][0] = SemanticInformationAggregation(
                    dims[i - 1], dims[i], TokenClusterer(**clustering),
                    num_clusters, norm_cfg)
                if isinstance(blocks[0], AbsolutePositionEmbedding):
                    del blocks[0]  # no position embedding after SIA
                if sia_clustering == 'q':
                    self.kv_projections[str(i)] = _kv_projections(
                        dims[i], len(blocks))

    def forward(self, x):
        """(B, 3, H, W) -> list of (B, C_i, H_i, W_i) for out_indices."""
        outs, state = [], None
        for i, (embed, blocks, norm) in enumerate(self.layers):
            if self.aggregations[i] == 'sia':
                state = self._clustered_stage(i, embed, blocks, state)
            else:
                tokens, hw = embed(x if state is None else state.to_map())
                for block in blocks:
                    tokens = block(tokens, hw)
                state = TokenState.from_grid(tokens, hw)
            state = state.replace(norm(state.x))
            if i in self.out_indices:
                outs.append(state.to_map())
        return outs

    def _clustered_stage(self, i, sia, blocks, state):
        queries, source = sia(state)
        for layer, projection in zip(blocks,
                                     _projections_of(self, i, len(blocks))):
            x = queries.x
            query = layer.norm1(x)
            if projection is None:  # Q, K and V all clustered (Tab. 5)
                keys = values = _reduce(layer.attn, query, queries)
            else:
                kv_state = source.replace(layer.norm1(source.x))
                keys = _reduce(layer.attn, projection['key'](kv_state),
                               source)
                values = _reduce(layer.attn, projection['value'](kv_state),
                                 source)
            x = x + _attend(layer, query, keys, values)
            x = _ffn(layer.ffn, layer.norm2(x), queries, identity=x)
            queries = queries.replace(x)
        return queries

    def init_weights(self):
        """mmdet's initialisation with zero LAA offsets; ``Pretrained``
        loads through :func:`load_pretrained` (official PVT files are
        converted) and reports what matched."""
        init_cfg = self.init_cfg
        pretrained = isinstance(init_cfg, dict) and init_cfg.get(
            'type') == 'Pretrained'
        if pretrained:
            self.init_cfg = None
        super().init_weights()
        self.init_cfg = init_cfg
        _zero_laa_offsets(self)
        if pretrained:
            # the 90 % rule is enforced before training (mmhvit.engine);
            # here only an explicit min_loaded_ratio applies
            load_pretrained(self, init_cfg['checkpoint'],
                            init_cfg.get('prefix'), official_format='pvt',
                            min_loaded_ratio=init_cfg.get('min_loaded_ratio'))


def _hafa_kwargs(arch, arch_zoo, name, out_indices, num_stages=4):
    settings = resolve_arch(arch, arch_zoo, name)
    return dict(settings, out_indices=check_out_indices(
        out_indices, num_stages))


@MODELS.register_module()
class PVTHAFA(HAFAMixin, PyramidVisionTransformer):
    """PVT v1 with HAFA (HAFA Tabs. 1-5, supplement Tab. 1).

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``,
            ``'large'`` (PVT's depths), or a dict of mmdet
            ``PyramidVisionTransformer`` arguments.
        aggregations (Sequence[str]): In front of stages 2, 3 and 4:
            ``'laa'``, ``'sia'`` or ``'conv'``.
        laa_kernel (int): LAA kernel size (3 or 2).
        clustering (dict): :class:`TokenClusterer` arguments (``method``
            ``'dpc_knn'`` or ``'kmeans'``, ``k``, ``num_iters``).
        num_clusters (int, optional): Fixed SIA cluster number.
        sia_clustering (str): ``'q'`` or ``'qkv'`` (Tab. 5).
        out_indices (Sequence[int]): Output stages.
        norm_cfg (dict): Norm config (mmdet PVT's default).
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...,
            prefix=...)``; official PVT checkpoints are converted.
        **kwargs: Other arguments of mmdet's ``PyramidVisionTransformer``
            (``drop_path_rate``, ``sr_ratios``, ``mlp_ratios``, ...).
    """
    arch_zoo = {
        'tiny': dict(num_layers=[2, 2, 2, 2]),
        'small': dict(num_layers=[3, 4, 6, 3]),
        'medium': dict(num_layers=[3, 4, 18, 3]),
        'large': dict(num_layers=[3, 8, 27, 3]),
    }
    default_arch = 'tiny'


@MODELS.register_module()
class PVTv2HAFA(HAFAMixin, PyramidVisionTransformerV2):
    """PVTv2 with HAFA (HAFA Tabs. 4 and 6). Arguments as
    :class:`PVTHAFA`; ``arch`` is ``'b0'`` ... ``'b4'``. A zero-offset 3x3
    LAA is exactly PVTv2's own overlapping patch embedding."""
    arch_zoo = {
        'b0': dict(embed_dims=32, num_layers=[2, 2, 2, 2]),
        'b1': dict(embed_dims=64, num_layers=[2, 2, 2, 2]),
        'b2': dict(embed_dims=64, num_layers=[3, 4, 6, 3]),
        'b3': dict(embed_dims=64, num_layers=[3, 4, 18, 3]),
        'b4': dict(embed_dims=64, num_layers=[3, 8, 27, 3]),
    }
    default_arch = 'b1'


class _LAAPatchMerging(LocalAdaptiveAggregation):
    """LAA with the ``(tokens, hw) -> (tokens, hw)`` call of Swin's patch
    merging."""

    def forward(self, x, hw):
        batch, _, channels = x.shape
        return super().forward(x.transpose(1, 2).reshape(batch, channels, *hw))


def _swin_block_on_clusters(block, queries, source, projection):
    """A Swin block whose queries are merged tokens: global attention to
    ``source`` (or among the queries when ``projection`` is None), with the
    block's qkv, output projection, stochastic depth and FFN."""
    msa = block.attn.w_msa
    x = queries.x
    query = block.norm1(x)
    weight, bias = msa.qkv.weight.chunk(3), msa.qkv.bias.chunk(3)
    if projection is None:
        keys = values = query
    else:
        kv_state = source.replace(block.norm1(source.x))
        keys, values = projection['key'](kv_state), projection['value'](
            kv_state)
    q, k, v = (tokens_to_heads(F.linear(t, w, b), msa.num_heads)
               for t, w, b in zip((query, keys, values), weight, bias))
    out = F.scaled_dot_product_attention(
        q, k, v, dropout_p=msa.attn_drop.p if block.training else 0.,
        scale=msa.scale)  # (B, h, M, d)
    out = msa.proj_drop(msa.proj(heads_to_tokens(out)))
    x = x + block.attn.drop(out)
    return queries.replace(block.ffn(block.norm2(x), identity=x))


@MODELS.register_module()
class SwinHAFA(SwinTransformer):
    """Swin Transformer with HAFA (HAFA Tab. 6), built on mmdet's
    ``SwinTransformer``: LAA / SIA / patch merging (``'conv'``) at the end
    of stages 1-3. Other arguments as :class:`PVTHAFA`; ``arch`` is
    ``'tiny'``, ``'small'`` or ``'base'``; further keyword arguments go to
    mmdet's ``SwinTransformer``."""
    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2),
                     num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2),
                      num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2),
                     num_heads=(4, 8, 16, 32)),
    }

    def __init__(self, arch='tiny', aggregations=('laa', 'laa', 'sia'),
                 laa_kernel=3, clustering=dict(method='dpc_knn', k=5),
                 num_clusters=None, sia_clustering='q',
                 out_indices=(0, 1, 2, 3), norm_cfg=dict(type='LN'),
                 init_cfg=None, **kwargs):
        super().__init__(
            **_hafa_kwargs(arch, self.arch_zoo, 'SwinHAFA', out_indices),
            norm_cfg=norm_cfg, init_cfg=init_cfg, **kwargs)
        self.aggregations = check_per_stage('aggregations', aggregations, 3)
        if sia_clustering not in ('q', 'qkv'):
            raise ValueError(f"sia_clustering must be 'q' or 'qkv', got "
                             f'{sia_clustering!r}.')
        self.kv_projections = ModuleDict()
        for i, kind in enumerate(self.aggregations):
            if kind not in AGGREGATIONS:
                raise ValueError(f'Unknown aggregation {kind!r} after stage '
                                 f'{i + 1}; choose from {AGGREGATIONS}.')
            dims = self.num_features[i], self.num_features[i + 1]
            if kind == 'laa':
                self.stages[i].downsample = _LAAPatchMerging(
                    *dims, laa_kernel, 2, norm_cfg)
            elif kind == 'sia':
                self.stages[i].downsample = SemanticInformationAggregation(
                    *dims, TokenClusterer(**clustering), num_clusters,
                    norm_cfg)
                blocks = self.stages[i + 1].blocks
                for block in blocks:  # no positions among clusters
                    block.attn.w_msa.register_parameter(
                        'relative_position_bias_table', None)
                if sia_clustering == 'q':
                    self.kv_projections[str(i + 1)] = _kv_projections(
                        dims[1], len(blocks))

    def train(self, mode=True):
        """mmdet's ``SwinTransformer.train`` returns ``None``; return the
        module as ``nn.Module.train`` does (``model.eval()`` chains)."""
        super().train(mode)
        return self

    def forward(self, x):
        """(B, 3, H, W) -> list of (B, C_i, H_i, W_i) for out_indices."""
        x, hw = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        state, source = TokenState.from_grid(self.drop_after_pos(x), hw), None
        outs = []
        for i, stage in enumerate(self.stages):
            if source is None:
                tokens = state.x
                for block in stage.blocks:
                    tokens = block(tokens, state.map_size)
                state = state.replace(tokens)
            else:
                projections = _projections_of(self, i, len(stage.blocks))
                for block, projection in zip(stage.blocks, projections):
                    state = _swin_block_on_clusters(block, state, source,
                                                    projection)
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                outs.append(state.replace(norm(state.x)).to_map())
            if stage.downsample is not None:
                state, source = self._downsample(stage.downsample, state)
        return outs

    @staticmethod
    def _downsample(downsample, state):
        if isinstance(downsample, SemanticInformationAggregation):
            return downsample(state)
        tokens, hw = downsample(state.x if state.tokens.is_grid else
                                state.to_map().flatten(2).transpose(1, 2),
                                state.map_size)
        return TokenState.from_grid(tokens, hw), None

    def init_weights(self):
        """mmdet's Swin initialisation (and pretrained loading), with zero
        LAA offsets."""
        super().init_weights()
        _zero_laa_offsets(self)
