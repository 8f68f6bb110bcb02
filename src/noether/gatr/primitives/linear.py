"""Equivariant linear maps on component-major multivectors: layout wrappers over the kernels.

The map is :func:`noether.algebra.kernels.equivariant_linear` with the basis in internal order
(:attr:`Layout.linear <noether.gatr.primitives.layout.Layout.linear>`): one ``bmm`` for the
diagonal (grade projections), and in a projective algebra one ``baddbmm`` of ``x[:dim/2]`` into
``y[dim/2:]`` for the maps ``x -> e0 <x>_k`` (the internal order puts them there); other algebras
gather. That is ``24 * in * out`` multiply-adds per token in PGA instead of the dense
``256 * in * out``.

:func:`equi_linear` adds the auxiliary scalar channels (bias on the scalar blade only) and runs
forward and backward as one fused autograd function over the kernels' forward and backward
pieces: no zero-filled gradients of slices, no copies of concatenations (see
:mod:`noether.gatr.primitives.fused`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from noether.algebra import Algebra, kernels
from noether.algebra.kernels import LinearPlan, linear_grad_input, linear_grad_weight
from noether.gatr.primitives.fused import differentiable_backward, save_inputs, saved_inputs
from noether.gatr.primitives.layout import layout

__all__ = [
    "LinearPlan",
    "equi_linear",
    "equi_linear_reference",
    "equivariant_linear",
    "linear_plan",
]


def linear_plan(algebra: Algebra) -> LinearPlan:
    """The kernel's plan of ``algebra``'s equivariant maps in internal order (one per algebra)."""
    return layout(algebra).linear


def equivariant_linear(algebra: Algebra, x: Tensor, weight: Tensor) -> Tensor:
    """``y[o] = sum_i sum_a weight[o, i, a] basis[a] x[i]`` on the internal layout.

    Args:
        algebra: the algebra; its basis has ``n_basis`` maps (EGA 4, PGA 9, CGA 6).
        x: ``(dim, n, in_channels)`` in internal component order; a channel slice of a larger
            tensor is fine.
        weight: ``(out_channels, in_channels, n_basis)``.

    Returns:
        ``(dim, n, out_channels)``, contiguous.
    """
    return kernels.equivariant_linear(linear_plan(algebra), x, weight)


def equi_linear_reference(
    algebra: Algebra,
    x: Tensor,
    s: Tensor | None,
    weight: Tensor,
    bias: Tensor | None,
    s_to_mv: Tensor | None,
    mv_to_s: Tensor | None,
    s_to_s: Tensor | None,
    bias_s: Tensor | None,
) -> tuple[Tensor, Tensor | None]:
    """Plain-autograd :func:`equi_linear` (the oracle of its tests and of double backward)."""
    y = equivariant_linear(algebra, x, weight)
    scalar = None
    if s_to_mv is not None:
        scalar = F.linear(s, s_to_mv, bias)
    elif bias is not None:
        scalar = bias
    if scalar is not None:
        y = torch.cat([(y[0] + scalar)[None], y[1:]])
    s_out = None
    if mv_to_s is not None:
        s_out = F.linear(x[0], mv_to_s, bias_s)
        if s_to_s is not None:
            s_out = s_out + F.linear(s, s_to_s)
    return y, s_out


class _EquiLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, algebra, x, s, weight, bias, s_to_mv, mv_to_s, s_to_s, bias_s):
        save_inputs(ctx, (algebra, x, s, weight, bias, s_to_mv, mv_to_s, s_to_s, bias_s))
        n = x.shape[1]
        y = equivariant_linear(algebra, x, weight)
        if s_to_mv is not None:
            y[0].addmm_(s, s_to_mv.t())
        if bias is not None:
            y[0] += bias
        if mv_to_s is not None:
            s_out = F.linear(x[0], mv_to_s, bias_s)
            if s_to_s is not None:
                s_out.addmm_(s, s_to_s.t())
        else:
            s_out = x.new_empty(n, 0)
        return y, s_out

    @staticmethod
    def backward(ctx, grad_y, grad_s):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, _reference_pair, (grad_y, grad_s))
        algebra, x, s, weight, bias, s_to_mv, mv_to_s, s_to_s, bias_s = saved_inputs(ctx)
        needs = ctx.needs_input_grad
        plan = linear_plan(algebra)
        grad_y = grad_y.contiguous()
        has_s_out = mv_to_s is not None and grad_s is not None

        gx = gs = gw = gb = g_s2mv = g_mv2s = g_s2s = gbs = None
        if needs[1]:
            gx = linear_grad_input(plan, grad_y, *kernels.linear_weights(plan, weight))
            if has_s_out:
                gx[0].addmm_(grad_s, mv_to_s)
        if needs[3]:
            gw = linear_grad_weight(plan, x, grad_y)
        if bias is not None and needs[4]:
            gb = grad_y[0].sum(0)
        if s_to_mv is not None:
            if needs[5]:
                g_s2mv = grad_y[0].t() @ s
            if needs[2]:
                gs = grad_y[0] @ s_to_mv
        if has_s_out:
            if needs[6]:
                g_mv2s = grad_s.t() @ x[0]
            if s_to_s is not None:
                if needs[7]:
                    g_s2s = grad_s.t() @ s
                if needs[2]:
                    gs = grad_s @ s_to_s if gs is None else gs.addmm_(grad_s, s_to_s)
            if bias_s is not None and needs[8]:
                gbs = grad_s.sum(0)
        return None, gx, gs, gw, gb, g_s2mv, g_mv2s, g_s2s, gbs


def _reference_pair(*args):
    y, s_out = equi_linear_reference(*args)
    if s_out is None:
        s_out = y.new_zeros(y.shape[1], 0)
    return y, s_out


def equi_linear(
    algebra: Algebra,
    x: Tensor,
    s: Tensor | None,
    weight: Tensor,
    bias: Tensor | None = None,
    s_to_mv: Tensor | None = None,
    mv_to_s: Tensor | None = None,
    s_to_s: Tensor | None = None,
    bias_s: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """The equivariant linear map with auxiliary scalars, fused forward and backward.

    Args:
        x: ``(dim, n, in_mv)`` internal layout; s: ``(n, in_s)`` or ``None``.
        weight: ``(out_mv, in_mv, n_basis)``; bias: ``(out_mv,)`` on the scalar blade.
        s_to_mv: ``(out_mv, in_s)``, scalars into the scalar blade.
        mv_to_s: ``(out_s, in_mv)``, the scalar blade into the scalars; s_to_s: ``(out_s, in_s)``;
            bias_s: ``(out_s,)``.

    Returns:
        ``y: (dim, n, out_mv)`` and ``s_out: (n, out_s)`` (``None`` without ``mv_to_s``).
    """
    y, s_out = _EquiLinear.apply(
        algebra, x.contiguous(), s, weight, bias, s_to_mv, mv_to_s, s_to_s, bias_s
    )
    return y, (s_out if mv_to_s is not None else None)
