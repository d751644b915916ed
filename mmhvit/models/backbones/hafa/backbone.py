"""The base of the HAFA backbones: a plain network's stages with an
aggregation in front of stages 2-4."""
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmdet.models.backbones.pvt import AbsolutePositionEmbedding
from mmengine.model import ModuleDict
from torch import nn

from ...layers import one_image_at_a_time
from ..base import PyramidBackbone, freeze, stage_layers
from .aggregation import (AggregationPlan, LocalAdaptiveAggregation,
                          SemanticInformationAggregation, TokenState)


def _run(block: nn.Module, with_cp: bool, x, *args):
    """``block(x, *args)``, checkpointed under ``with_cp``."""
    tokens = x.x if isinstance(x, TokenState) else x
    if with_cp and tokens.requires_grad:
        return cp.checkpoint(block, x, *args, use_reentrant=False)
    return block(x, *args)


class HAFAStage(NamedTuple):
    """The modules of one stage of a HAFA backbone, wherever its layout
    keeps them (PVT: ``layers.i``; Swin: ``patch_embed`` or the previous
    stage's ``downsample``, ``stages.i.blocks``, ``norm{i}``).

    Attributes:
        aggregation (callable): In front of the stage. SIA: a
            :class:`TokenState` -> the merged tokens and the downsampled
            map's; any other: a map ``(B, C, H, W)`` -> tokens ``(B, N, C')``
            and their ``(H', W')``.
        blocks (Sequence[nn.Module]): Its blocks, after PVT's position
            embedding where the stage has one.
        norm (nn.Module, optional): Its output norm.
        projections (Sequence[ModuleDict], optional): CvT's key/value
            projections of its blocks (SIA with Q clustering).
    """
    aggregation: Callable
    blocks: Sequence[nn.Module]
    norm: Optional[nn.Module]
    projections: Optional[Sequence[ModuleDict]]

    def run(self, x: Union[torch.Tensor, TokenState],
            with_cp: bool = False) -> Tuple[TokenState, TokenState]:
        """The image (stage 1) or the previous stage's tokens -> this
        stage's tokens before and after its norm; the blocks checkpointed
        under ``with_cp``."""
        if isinstance(self.aggregation, SemanticInformationAggregation):
            state, source = self.aggregation(x)
            projections = [None] * len(self.blocks) \
                if self.projections is None else self.projections
            for block, projection in zip(self.blocks, projections):
                state = _run(block, with_cp, state, source, projection)
        else:
            tokens, hw = self.aggregation(
                x if isinstance(x, torch.Tensor) else x.to_map())  # (B, N, C)
            for block in self.blocks:
                tokens = _run(block, with_cp, tokens, hw)
            state = TokenState.from_grid(tokens, hw)
        normed = state if self.norm is None else \
            state.replace(self.norm(state.x))
        return state, normed

    def layers(self, with_aggregation: bool) -> List[List[nn.Module]]:
        """Its layer depths (:func:`stage_layers`): a block each, with its
        projections; the aggregation (unless it is the stem) and the
        position embedding join the first, the norm the last."""
        front = [self.aggregation] if with_aggregation else []
        front += [b for b in self.blocks
                  if isinstance(b, AbsolutePositionEmbedding)]
        blocks = [b for b in self.blocks
                  if not isinstance(b, AbsolutePositionEmbedding)]
        if self.projections is not None:
            blocks = list(zip(blocks, self.projections))
        return stage_layers(blocks, front,
                            [] if self.norm is None else [self.norm])

    def companions(self) -> List[nn.Module]:
        """Its projections and norm, frozen with the stage (a layout may
        keep them outside its stage modules)."""
        return [m for m in (self.projections, self.norm) if m is not None]


class HAFABackbone(PyramidBackbone):
    """Base of the HAFA backbones: a plain network's stages with an
    aggregation (LAA, SIA or the network's own) in front of stages 2-4.

    Subclasses build their modules in mmdet's layout, the aggregations with
    ``self.plan`` (:class:`AggregationPlan`) and the blocks of the class
    :meth:`block_type` gives, then call :meth:`_freeze_stages`, and
    implement :meth:`stage_parts`, :meth:`frozen_modules` and
    :meth:`init_plain_weights`.

    Args:
        aggregations, laa_kernel, clustering, num_clusters, sia_clustering:
            The HAFA options, as :class:`AggregationPlan` documents them.
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
        self.plan = AggregationPlan(aggregations, laa_kernel, clustering,
                                    num_clusters, sia_clustering,
                                    self.num_stages)
        self.with_cp, self.eval_per_image = with_cp, eval_per_image
        self.kv_projections = ModuleDict()

    def block_type(self, stage, channels, depth, plain_cls, clustered_cls):
        """``clustered_cls`` for the ``depth`` blocks of a stage after SIA,
        their key/value projections (if any) registered in
        ``kv_projections``; ``plain_cls`` for any other stage."""
        if not self.plan.clustered(stage):
            return plain_cls
        projections = self.plan.kv_projections(stage, channels, depth)
        if projections is not None:
            self.kv_projections[str(stage)] = projections
        return clustered_cls

    def stage_parts(self, stage):
        """``(aggregation, blocks, norm)`` of ``stage``; ``norm`` may be
        None (no output norm)."""
        raise NotImplementedError

    def stage(self, stage) -> HAFAStage:
        """The modules of ``stage``, with its blocks' projections."""
        key = str(stage)
        return HAFAStage(*self.stage_parts(stage), self.kv_projections[key]
                         if key in self.kv_projections else None)

    def forward(self, x):
        """(B, 3, H, W) -> tuple of (B, C_i, H_i, W_i) for out_indices; in
        eval mode, one image at a time unless ``eval_per_image=False``
        (:func:`~mmhvit.models.layers.one_image_at_a_time`)."""
        if self.eval_per_image and not self.training:
            return one_image_at_a_time(self.forward_stages, x)
        return self.forward_stages(x)

    def forward_stages(self, x):
        """Each stage on the previous one's tokens (stage 1 on the image)."""
        outs = []
        for i in range(self.num_stages):
            state, normed = self.stage(i).run(x, self.with_cp)
            x = normed if self.norm_feeds_forward else state
            if i in self.out_indices:
                outs.append(normed.to_map())  # (B, C_i, H_i, W_i)
        return tuple(outs)

    def layers_by_depth(self):
        """The first patch embedding (the stem), then the blocks
        (:meth:`HAFAStage.layers`)."""
        return [self.frozen_modules()[:1]] + [
            layer for i in range(self.num_stages)
            for layer in self.stage(i).layers(with_aggregation=i > 0)
        ]

    def _freeze_stages(self):
        super()._freeze_stages()
        for stage in range(self.frozen_stages):
            for module in self.stage(stage).companions():
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
