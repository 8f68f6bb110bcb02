"""The scalar-gated nonlinearity: ``x * GELU(<x>_0)``, equivariant because ``<x>_0`` is invariant."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from noether.gatr.primitives.fused import differentiable_backward, save_inputs, saved_inputs

__all__ = ["gated_gelu", "gated_gelu_reference"]


def gated_gelu_reference(x: Tensor) -> Tensor:
    """Plain-autograd :func:`gated_gelu`."""
    return x * F.gelu(x[:1], approximate="tanh")


class _GatedGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        save_inputs(ctx, (x,))
        return x * F.gelu(x[:1], approximate="tanh")

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, gated_gelu_reference, (grad,))
        (x,) = saved_inputs(ctx)
        gate = F.gelu(x[0], approximate="tanh")
        gx = grad * gate
        through_gate = (grad * x).sum(0)  # not einsum: it runs a bmm of 1x1 products
        gx[0] += torch.ops.aten.gelu_backward(through_gate, x[0], approximate="tanh")
        return (gx,)


def gated_gelu(x: Tensor) -> Tensor:
    """``(dim, n, c) -> (dim, n, c)``: each multivector times GELU (tanh form) of its scalar
    component ``x[0]`` (the scalar is the first component in every internal order)."""
    return _GatedGelu.apply(x)
