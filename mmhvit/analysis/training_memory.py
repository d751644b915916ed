"""What one training step keeps in memory, counted rather than sampled.

A training step holds the parameters, their gradients, the optimizer's
state and, between the forward pass and the backward pass, every tensor
autograd saves for backward. :func:`count_training_memory` runs the forward
pass of a step (the loss of a segmentor or classifier as its config builds
it, batch of random images and labels) under
``torch.autograd.graph.saved_tensors_hooks`` and adds up the bytes of the
distinct storages saved (views of one storage, e.g. the queries, keys and
values sliced from one projection, count once; parameters are counted as
parameters). The figure depends on the kernels that run, not on the device:
for the same kernels it is the same on the CPU and on a GPU. With
``fake=True`` the step runs on fake tensors (``FakeTensorMode``): shapes
only, no arithmetic and no memory, so large crops of large models can be
counted anywhere; the kernel choice (e.g. the fused attention of
``scaled_dot_product_attention``) is the one of the device the fake
tensors stand for, the CPU.

The optimizer state is that of the config's optimizer (``optim_wrapper``,
with its ``paramwise_cfg``) after one step, counted on meta-device twins of
the parameters, so nothing is allocated. Not counted: the transient
workspace of a kernel, tensors alive only within the forward or backward
pass (e.g. the activations ``with_cp`` recomputes during backward, one
block at a time), the allocator's caching and fragmentation and CUDA / cuDNN
context: a GPU needs that much more (see README "Training memory").
"""
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn
from torch._subclasses.fake_tensor import (FakeTensorMode,
                                           unset_fake_temporarily)
from torch.fx.experimental.symbolic_shapes import ShapeEnv
from torch.utils._pytree import tree_leaves

from .benchmark import autocast, output_loss
from .model_zoo import build_from_config, default_shape

MIB = 2**20
#: metafile fields of a dense config's counted training step (batch 1, the
#: config's crop): saved activations per image; weights, gradients and
#: optimizer state
MEMORY_FIELDS = ('Training Memory Per Image (MiB)',
                 'Training Memory Fixed (MiB)')

# optimizer of models given without a config: the papers' ImageNet recipe
DEFAULT_OPTIM_WRAPPER = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))


class TrainingMemory(NamedTuple):
    """Bytes held by one training step of ``batch`` images."""
    saved: int  # saved for backward (activations), parameters excluded
    params: int
    grads: int
    optimizer: int
    batch: int

    @property
    def total(self) -> int:
        return self.saved + self.params + self.grads + self.optimizer

    def fields(self) -> Dict[str, float]:
        """:data:`MEMORY_FIELDS` in MiB, one decimal."""
        fixed = self.params + self.grads + self.optimizer
        return dict(zip(MEMORY_FIELDS, (round(self.saved / self.batch / MIB,
                                              1), round(fixed / MIB, 1))))


def storage_key(tensor: torch.Tensor) -> int:
    """Identity of the storage under ``tensor`` (its ``StorageImpl``): on
    real tensors the same deduplication as ``untyped_storage().data_ptr()``
    of live tensors, and defined on fake and meta tensors too, whose data
    pointers are all 0."""
    return tensor.untyped_storage()._cdata


def tensor_bytes(tensors) -> int:
    """Bytes of the distinct storages under ``tensors``."""
    storages = {storage_key(t): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def saved_bytes(fn: Callable[[], Any],
                exclude: Tuple[torch.Tensor, ...] = ()) -> Tuple[Any, int]:
    """``fn()`` and the bytes of the distinct storages autograd saved for
    backward while it ran, without those under ``exclude``."""
    excluded = {storage_key(t) for t in exclude}
    saved = {}

    def pack(tensor):
        key = storage_key(tensor)
        if key not in excluded:
            saved[key] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, sum(saved.values())


def optimizer_state_bytes(model: nn.Module, optim_wrapper: Dict) -> int:
    """Bytes of the optimizer state ``optim_wrapper`` (an mmengine
    ``optim_wrapper`` config) keeps for ``model`` after one step, counted on
    meta-device twins of the parameters."""
    optimizer = build_optim_wrapper(model, optim_wrapper).optimizer
    for group in optimizer.param_groups:
        twins = []
        for param in group['params']:
            twin = nn.Parameter(torch.empty_like(param, device='meta'))
            twin.grad = torch.empty_like(twin)
            twins.append(twin)
        group['params'] = twins
    optimizer.step()
    return tensor_bytes(
        value for state in optimizer.state.values()
        for value in state.values() if torch.is_tensor(value))


def _seg_samples(batch, shape, num_classes):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=shape, pad_shape=shape,
                                             ori_shape=shape))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, *shape)))
        samples.append(sample)
    return samples


def _cls_samples(batch, num_classes, mixed):
    """Random labels; scores (``gt_score``) where the classifier trains with
    batch augments (Mixup, CutMix), which mix its labels into scores."""
    from mmpretrain.structures import DataSample
    if mixed:
        return [
            DataSample().set_gt_score(torch.rand(num_classes).softmax(0))
            for _ in range(batch)
        ]
    return [
        DataSample().set_gt_label(torch.randint(0, num_classes, (1, )))
        for _ in range(batch)
    ]


def _random_samples(model, scope, batch, shape):
    """Random ground truth of a segmentor's or classifier's loss: real
    tensors in a fake count too, as the losses check their values."""
    with unset_fake_temporarily():
        if scope == 'mmseg':
            return _seg_samples(batch, shape, model.decode_head.num_classes)
        return _cls_samples(
            batch, model.head.num_classes,
            getattr(model.data_preprocessor, 'batch_augments', None)
            is not None)


def training_loss(model: nn.Module, scope: Optional[str],
                  inputs: torch.Tensor) -> torch.Tensor:
    """The loss of a training step of ``model`` on ``inputs``: the
    segmentor's losses (decode and auxiliary heads, random labels), the
    classifier's, for detectors the sum of the means of the backbone's,
    neck's and dense head's (RPN or single-stage head) outputs, for other
    models (backbones) of the network's outputs."""
    if scope in ('mmseg', 'mmpretrain'):
        samples = _random_samples(model, scope, inputs.shape[0],
                                  tuple(inputs.shape[2:]))
        return model.parse_losses(model.loss(inputs, samples))[0]
    if scope == 'mmdet':
        # the dense network: proposals and RoI heads have data-dependent
        # sizes (no fake count) and need ground truth
        feats = model.extract_feat(inputs)
        head = model.rpn_head if getattr(model, 'with_rpn', False) else \
            model.bbox_head
        return output_loss(tree_leaves((feats, head(feats))))
    return output_loss(model(inputs))


def count_training_memory(model: nn.Module,
                          shape: Tuple[int, int],
                          scope: Optional[str] = None,
                          batch: int = 1,
                          optim_wrapper: Optional[Dict] = None,
                          fake: bool = False,
                          dtype: Optional[torch.dtype] = None
                          ) -> TrainingMemory:
    """Count one training step of ``model`` (in training mode) on ``batch``
    random ``shape`` images.

    Args:
        model: A whole network built from a config of ``scope``
            (``'mmseg'``, ``'mmdet'``, ``'mmpretrain'``) or, with
            ``scope=None``, a backbone.
        optim_wrapper: mmengine ``optim_wrapper`` config (default:
            :data:`DEFAULT_OPTIM_WRAPPER`).
        fake: Run the forward pass on fake tensors (see the module).
        dtype: The forward pass under CPU autocast to this dtype
            (``torch.bfloat16``, ``torch.float16``); None: float32.
    """
    params = tuple(model.parameters()) + tuple(model.buffers())
    model.train()

    def loss(inputs):
        with autocast(torch.device('cpu'), dtype):
            return training_loss(model, scope, inputs)

    # backward runs outside the hooks: with_cp's recomputation saves again,
    # for one block at a time
    if fake:
        # a shape environment for the data-dependent sizes of the losses'
        # accuracy; parameters used in an op are saved as their fake twins
        mode = FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv())
        with mode:
            inputs = torch.rand(batch, 3, *shape)
            twins = tuple(
                mode.from_tensor(p, static_shapes=True) for p in params)
            _, saved = saved_bytes(lambda: loss(inputs), params + twins)
    else:
        inputs = torch.rand(batch, 3, *shape)
        value, saved = saved_bytes(lambda: loss(inputs), params)
        value.backward()
        model.zero_grad(set_to_none=True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    return TrainingMemory(
        saved=saved,
        params=tensor_bytes(params),
        grads=tensor_bytes(trainable),
        optimizer=optimizer_state_bytes(
            model, optim_wrapper or DEFAULT_OPTIM_WRAPPER),
        batch=batch)


def count_config(config,
                 options: Optional[Dict] = None,
                 shape: Optional[Tuple[int, int]] = None,
                 batch: int = 1,
                 fake: bool = False,
                 with_cp: bool = False) -> Tuple[TrainingMemory, Tuple]:
    """:func:`count_training_memory` of the whole model of a config file
    (or ``Config``) with ``options`` merged (``--cfg-options`` keys), at
    ``shape`` (default: the config's crop, :func:`default_shape`), with its
    ``optim_wrapper`` (``AmpOptimWrapper``: the forward under autocast to
    its dtype); and that shape."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    # only where asked: mmdet's PVT and PVTv2 have no with_cp
    cfg.merge_from_dict(
        dict(options or {}, **{'model.backbone.with_cp': True})
        if with_cp else options or {})
    model, cfg = build_from_config(cfg)
    shape = tuple(shape or default_shape(cfg))
    optim_wrapper, dtype = cfg.get('optim_wrapper'), None
    if optim_wrapper is not None and optim_wrapper.get(
            'type') == 'AmpOptimWrapper':
        # mixed precision: the forward under autocast (the CPU's op list);
        # the same optimizer, whose wrapper asserts CUDA
        dtype = getattr(torch, optim_wrapper.get('dtype') or 'float16')
        optim_wrapper = dict(optim_wrapper, type='OptimWrapper')
        optim_wrapper.pop('dtype', None)
        optim_wrapper.pop('loss_scale', None)
    return count_training_memory(model, shape, cfg.default_scope, batch,
                                 optim_wrapper, fake, dtype), shape


def config_memory_fields(config: str, batch: int = 2) -> Dict[str, float]:
    """:meth:`TrainingMemory.fields` of a config's training step on fake
    tensors at its crop, for the model zoo (``model_zoo.py
    --count-memory``). Batch 2: a BatchNorm after global pooling (UPerNet's
    pyramid pooling) needs more than one value per channel in training."""
    return count_config(config, batch=batch, fake=True)[0].fields()
