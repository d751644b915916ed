"""Multiply-accumulates (MACs) of models, attention and clustering included.

PyTorch's ``FlopCounterMode`` counts matrix multiplications, convolutions
and the CUDA attention kernels, but not the CPU flash-attention kernel that
``scaled_dot_product_attention`` uses without a mask, nor torchvision's
deformable convolution or ``torch.cdist``: on a CPU, a PVT or Swin counted
with it silently loses its attention. :func:`count_macs` adds formulas for
those, so every backbone here is counted on the same terms on any device:

* convolutions and linear layers: one MAC per weight use;
* attention: ``QK^T`` and ``AV`` (two MACs per query-key pair per channel);
* deformable convolution: the convolution plus four MACs per sampled value
  (bilinear interpolation), whether by torchvision's op or by
  ``grid_sample`` (four MACs per output value);
* ``cdist`` (the clustering distances): one MAC per pair per channel.

Norms, activations, softmax and element-wise ops are not counted, as in the
papers' tables. Values are MACs (1 MAC = 2 FLOPs); papers that say "FLOPs"
for these tables mean MACs.
"""
from typing import Callable, Dict, NamedTuple

import torch
from torch.utils.flop_counter import (FlopCounterMode, conv_flop_count,
                                      sdpa_backward_flop_count,
                                      sdpa_flop_count)

aten = torch.ops.aten


def _sdpa_cpu(query, key, value, *args, **kwargs):
    return sdpa_flop_count(query, key, value)


def _sdpa_cpu_backward(grad_out, query, key, value, *args, **kwargs):
    return sdpa_backward_flop_count(grad_out, query, key, value)


def _deform_conv(input, weight, offset, mask, bias, *args, out_shape,
                 **kwargs):
    batch, channels = input[:2]
    sampled = batch * channels * weight[2] * weight[3] * out_shape[2] * \
        out_shape[3]
    return conv_flop_count(input, weight, out_shape) + 2 * 4 * sampled


def _grid_sample(input, grid, *args, out_shape, **kwargs):
    return 2 * 4 * out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]


def _cdist(x1, x2, *args, **kwargs):
    return 2 * x1[-2] * x2[-2] * x1[-1] * (x1[0] if len(x1) == 3 else 1)


def _custom_formulas() -> Dict:
    formulas = {
        aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu,
        aten._scaled_dot_product_flash_attention_for_cpu_backward:
        _sdpa_cpu_backward,
        aten._cdist_forward: _cdist,
        aten.grid_sampler_2d: _grid_sample,
    }
    try:
        import torchvision  # noqa: F401  (registers torchvision ops)
        formulas[torch.ops.torchvision.deform_conv2d] = _deform_conv
    except (ImportError, AttributeError):
        pass
    return formulas


class MacCount(NamedTuple):
    """Total MACs and the MACs of each module (dotted names from the root
    module's class name, e.g. ``'HLG.stages.0'``)."""
    total: int
    by_module: Dict[str, int]


def count_macs(fn: Callable[[], object], depth: int = 3) -> MacCount:
    """Run ``fn()`` without gradients and count its MACs."""
    counter = FlopCounterMode(display=False, depth=depth,
                              custom_mapping=_custom_formulas())
    with counter, torch.no_grad():
        fn()
    by_module = {
        name: sum(ops.values()) // 2
        for name, ops in counter.get_flop_counts().items() if name != 'Global'
    }
    return MacCount(counter.get_total_flops() // 2, by_module)
