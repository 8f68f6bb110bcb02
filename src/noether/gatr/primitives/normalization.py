"""Equivariant layer normalisation on component-major multivectors and plain scalars."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from noether.algebra import Algebra
from noether.gatr.primitives.fused import differentiable_backward, save_inputs, saved_inputs
from noether.gatr.primitives.layout import layout

__all__ = ["equivariant_layer_norm", "equivariant_layer_norm_reference", "scalar_layer_norm"]


def _channel_norms(algebra: Algebra, x: Tensor) -> Tensor:
    """``<x_c, x_c>`` per token and channel: ``(n, c)``.

    A product and a sum over the components: ``einsum`` would run these batched dot products
    as a ``bmm`` of ``n * c`` tiny matrices, ten to thirty times slower on CPU."""
    lay = layout(algebra)
    head = x[: lay.n_nondegenerate]
    squares = head * head
    if not lay.euclidean_metric:
        squares = squares * lay.signs(x.device, x.dtype)
    return squares.sum(0)


def equivariant_layer_norm_reference(algebra: Algebra, x: Tensor, eps: float = 0.01) -> Tensor:
    """Plain-autograd :func:`equivariant_layer_norm`."""
    mean = _channel_norms(algebra, x).abs().mean(-1)
    return x * mean.clamp_min(eps).rsqrt()[None, :, None]


class _LayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, algebra, x, eps):
        save_inputs(ctx, (algebra, x, eps))
        mean = _channel_norms(algebra, x).abs().mean(-1)
        return x * mean.clamp_min(eps).rsqrt()[None, :, None]

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, equivariant_layer_norm_reference, (grad,))
        algebra, x, eps = saved_inputs(ctx)
        lay = layout(algebra)
        m = lay.n_nondegenerate
        norms = _channel_norms(algebra, x)  # (n, c)
        mean = norms.abs().mean(-1)
        r = mean.clamp_min(eps).rsqrt()
        gx = grad * r[None, :, None]
        # d/dx of r: -r^3 / 2 * d mean; d mean / d x_kc = 2 sign(norm_c) metric_k x_kc / C
        dot = (grad * x).sum((0, 2))
        coef = (-dot * r**3 / x.shape[2]) * (mean > eps).to(x.dtype)  # (n,)
        weight = coef[:, None] * norms.sign()  # (n, c)
        if lay.euclidean_metric:
            gx[:m] += x[:m] * weight
        else:
            gx[:m] += x[:m] * weight * lay.signs(x.device, x.dtype)
        return None, gx, None


def equivariant_layer_norm(algebra: Algebra, x: Tensor, eps: float = 0.01) -> Tensor:
    """``x / sqrt(max(mean_c |<x_c, x_c>|, eps))`` per token.

    Args:
        x: ``(dim, n, channels)`` internal layout.
        eps: floor of the mean squared norm. The inner product ignores the degenerate blades
            (PGA: every component with ``e0``), so a token may have a vanishing norm and large
            ``e0`` components; the floor (0.01, as in GATr) keeps the division bounded there.
            In CGA the absolute value makes the indefinite norm usable (points are null).

    Returns:
        ``(dim, n, channels)``; invariant scaling, so equivariant.
    """
    return _LayerNorm.apply(algebra, x, eps)


def scalar_layer_norm(s: Tensor, eps: float = 1e-5) -> Tensor:
    """Layer norm without affine parameters over the last axis: ``(n, c) -> (n, c)``."""
    return F.layer_norm(s, s.shape[-1:], eps=eps)
