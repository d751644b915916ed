"""Selective activation recomputation (Korthikanti et al., "Reducing
Activation Recomputation in Large Transformer Models", MLSys 2023): a
linear layer after a cheap step (a LayerNorm, an activation) keeps the
step's input for backward and recomputes the step's output there, instead
of keeping both. A pre-norm transformer layer keeps the inputs of its
LayerNorms anyway (the residual stream) and its FFN activation keeps its
input, so what is saved is the outputs: 2 C + 4 C of the 16 C floats per
token a ViT layer keeps besides its attention. The price is one more
LayerNorm or activation per linear layer in backward, no matrix product.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class _LinearAfter(torch.autograd.Function):
    """``F.linear(step(x), weight, bias)`` keeping ``x`` and ``weight``;
    ``step``'s parameters follow as inputs, for their gradients."""

    @staticmethod
    def forward(ctx, x, weight, bias, step, *step_params):
        ctx.step = step
        ctx.autocast = dict(
            device_type=x.device.type,
            dtype=torch.get_autocast_dtype(x.device.type),
            enabled=torch.is_autocast_enabled(x.device.type))
        ctx.save_for_backward(x, weight, bias)
        return F.linear(step(x), weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias = ctx.saved_tensors
        params = [p for p in ctx.step.parameters() if p.requires_grad]
        # the forward's autocast state, so the step and the products run in
        # the forward's dtypes
        with torch.enable_grad(), torch.autocast(**ctx.autocast):
            x = x.detach().requires_grad_()
            y = ctx.step(x)  # the recomputation
            grad_y = grad.matmul(weight)
            rows = grad.reshape(-1, grad.shape[-1])  # (tokens, out)
            grad_weight = rows.t().mm(y.detach().reshape(
                -1, y.shape[-1])).to(weight.dtype) \
                if ctx.needs_input_grad[1] else None
        grads = iter(torch.autograd.grad(y, [x] + params, grad_y.to(y.dtype)))
        grad_x = next(grads)
        grad_params = [
            next(grads) if p.requires_grad else None
            for p in ctx.step.parameters()
        ]
        grad_bias = None if bias is None else rows.sum(0).to(bias.dtype)
        return (grad_x, grad_weight, grad_bias, None, *grad_params)


def linear_after(step: Optional[nn.Module], x: torch.Tensor,
                 weight: torch.Tensor,
                 bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.linear(step(x), weight, bias)``; where autograd records it,
    ``x`` is kept for backward and ``step(x)`` recomputed there rather than
    kept (:class:`_LinearAfter`). ``step`` is a module of element-wise or
    per-token work (LayerNorm, activation; deterministic: no dropout), or
    None for the linear alone."""
    if step is None:
        return F.linear(x, weight, bias)
    params = tuple(step.parameters())
    if not torch.is_grad_enabled() or not any(
            t.requires_grad for t in (x, weight) + params):
        return F.linear(step(x), weight, bias)
    return _LinearAfter.apply(x, weight, bias, step, *params)
