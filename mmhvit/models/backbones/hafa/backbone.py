"""The base of the HAFA backbones: a plain network's stages with an
aggregation in front of stages 2-4."""
from typing import List

import torch.utils.checkpoint as cp
from mmdet.models.backbones.pvt import AbsolutePositionEmbedding
from mmengine.model import ModuleDict, ModuleList
from torch import nn

from mmhvit.checks.model import check_per_stage
from ...layers import TokenClusterer, one_image_at_a_time
from ..base import PyramidBackbone, freeze, stage_layers
from .aggregation import (AGGREGATIONS, ConvProjection,
                          LocalAdaptiveAggregation,
                          SemanticInformationAggregation, TokenState)


class HAFABackbone(PyramidBackbone):
    """Base of the HAFA backbones: a plain network's stages with an
    aggregation (LAA, SIA or the network's own) in front of stages 2-4.

    Subclasses build their modules in mmdet's layout with
    :meth:`build_aggregation` and :meth:`block_type`, then call
    :meth:`_freeze_stages`, and implement :meth:`stage_parts`,
    :meth:`frozen_modules` and :meth:`init_plain_weights`. Stage ``i``
    runs its aggregation (on the previous stage's tokens or map, or on the
    image), its blocks and its norm.

    Args:
        aggregations (Sequence[str]): In front of stages 2, 3 and 4:
            ``'laa'``, ``'sia'`` or ``'conv'``.
        laa_kernel (int): LAA kernel size (3 or 2).
        clustering (dict): :class:`TokenClusterer` arguments (``method``
            ``'dpc_knn'`` or ``'kmeans'``, ``k``, ``num_iters``).
        num_clusters (int, optional): Fixed SIA cluster number.
        sia_clustering (str): ``'q'`` or ``'qkv'`` (Tab. 5).
        with_cp (bool): Gradient checkpointing of every block.
        eval_per_image (bool): In eval mode, run the images of a batch one
            at a time (default), so that each image's clusters are exactly
            those it gets alone; ``False`` runs the batch at once, faster
            but with clusters that can change with the batch
            (:func:`~mmhvit.models.layers.one_image_at_a_time` states the
            cost).
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``init_cfg`` of :class:`PyramidBackbone`.
    """
    num_stages = 4
    # whether a stage's norm feeds the next stage (PVT) or only the output
    # (Swin)
    norm_feeds_forward = True

    def __init__(self,
                 aggregations=('laa', 'laa', 'sia'),
                 laa_kernel=3,
                 clustering=dict(method='dpc_knn', k=5),
                 num_clusters=None,
                 sia_clustering='q',
                 with_cp=False,
                 eval_per_image=True,
                 **kwargs):
        super().__init__(self.num_stages, **kwargs)
        aggregations = check_per_stage('aggregations', aggregations,
                                       self.num_stages - 1)
        for i, kind in enumerate(aggregations, start=2):
            if kind not in AGGREGATIONS:
                raise ValueError(f'Unknown aggregation {kind!r} in front of '
                                 f'stage {i}; choose from {AGGREGATIONS}.')
        if sia_clustering not in ('q', 'qkv'):
            raise ValueError(f"sia_clustering must be 'q' or 'qkv', got "
                             f'{sia_clustering!r}.')
        # stage 1 starts with the network's own patch embedding
        self.aggregations = ('conv', *aggregations)
        self.laa_kernel, self.clustering = laa_kernel, dict(clustering)
        self.num_clusters, self.sia_clustering = num_clusters, sia_clustering
        self.with_cp, self.eval_per_image = with_cp, eval_per_image
        self.kv_projections = ModuleDict()

    def build_aggregation(self, stage, in_channels, out_channels, stride,
                          norm_cfg):
        """The LAA or SIA in front of ``stage``; None where it is the
        network's own (``'conv'``), which the subclass builds."""
        kind = self.aggregations[stage]
        if kind == 'laa':
            return LocalAdaptiveAggregation(in_channels, out_channels,
                                            self.laa_kernel, stride, norm_cfg)
        if kind == 'sia':
            return SemanticInformationAggregation(
                in_channels, out_channels, TokenClusterer(**self.clustering),
                self.num_clusters, norm_cfg)
        return None

    def block_type(self, stage, channels, depth, plain_cls, clustered_cls):
        """The class of the blocks of ``stage``: ``clustered_cls`` after
        SIA, else ``plain_cls``. With Q clustering, a clustered stage's
        ``depth`` blocks get the CvT projections of their keys and values
        (``kv_projections``), built here."""
        if self.aggregations[stage] != 'sia':
            return plain_cls
        if self.sia_clustering == 'q':
            self.kv_projections[str(stage)] = ModuleList(
                ModuleDict(dict(key=ConvProjection(channels),
                                value=ConvProjection(channels)))
                for _ in range(depth))
        return clustered_cls

    def stage_parts(self, stage):
        """``(aggregation, blocks, norm)`` of ``stage``; ``norm`` may be
        None (no output norm)."""
        raise NotImplementedError

    def _run(self, block, x, *args):
        """``block(x, *args)``, checkpointed under ``with_cp``."""
        tokens = x.x if isinstance(x, TokenState) else x
        if self.with_cp and tokens.requires_grad:
            return cp.checkpoint(block, x, *args, use_reentrant=False)
        return block(x, *args)

    def forward(self, x):
        """(B, 3, H, W) -> tuple of (B, C_i, H_i, W_i) for out_indices; in
        eval mode, one image at a time unless ``eval_per_image=False``
        (:func:`~mmhvit.models.layers.one_image_at_a_time`)."""
        if self.eval_per_image and not self.training:
            return one_image_at_a_time(self.forward_stages, x)
        return self.forward_stages(x)

    def forward_stages(self, x):
        """Stage ``i``: its aggregation, blocks and norm."""
        outs, state = [], None
        for i in range(self.num_stages):
            aggregation, blocks, norm = self.stage_parts(i)
            if self.aggregations[i] == 'sia':
                state, source = aggregation(state)
                projections = self.kv_projections[str(i)] if \
                    str(i) in self.kv_projections else [None] * len(blocks)
                for block, projection in zip(blocks, projections):
                    state = self._run(block, state, source, projection)
            else:
                tokens, hw = aggregation(x if state is None else
                                         state.to_map())  # (B, N, C)
                for block in blocks:
                    tokens = self._run(block, tokens, hw)
                state = TokenState.from_grid(tokens, hw)
            normed = state if norm is None else state.replace(norm(state.x))
            if self.norm_feeds_forward:
                state = normed
            if i in self.out_indices:
                outs.append(normed.to_map())  # (B, C_i, H_i, W_i)
        return tuple(outs)

    def layers_by_depth(self):
        """The first patch embedding (the stem), then the blocks, each with
        its key/value projections; the aggregation in front of a stage (and
        PVT's position embedding) joins the stage's first block, its norm
        the last."""
        layers = [self.frozen_modules()[:1]]
        for i in range(self.num_stages):
            aggregation, blocks, norm = self.stage_parts(i)
            front = [] if i == 0 else [aggregation]
            front += [b for b in blocks
                      if isinstance(b, AbsolutePositionEmbedding)]
            blocks = [b for b in blocks
                      if not isinstance(b, AbsolutePositionEmbedding)]
            if str(i) in self.kv_projections:
                blocks = list(zip(blocks, self.kv_projections[str(i)]))
            layers += stage_layers(blocks, front,
                                   [] if norm is None else [norm])
        return layers

    def stage_companions(self, stage) -> List[nn.Module]:
        """Modules of ``stage`` outside ``frozen_modules()``: its key/value
        projections."""
        key = str(stage)
        return [self.kv_projections[key]] if key in self.kv_projections \
            else []

    def _freeze_stages(self):
        super()._freeze_stages()
        for stage in range(self.frozen_stages):
            for module in self.stage_companions(stage):
                freeze(module)

    def init_default_weights(self):
        """The plain network's initialisation (:meth:`init_plain_weights`)
        with zero LAA offsets, so that an untrained LAA samples the regular
        grid."""
        self.init_plain_weights()
        for module in self.modules():
            if isinstance(module, LocalAdaptiveAggregation):
                module.zero_offsets()

    def init_plain_weights(self):
        raise NotImplementedError
