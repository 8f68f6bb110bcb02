"""Equivariant linear maps on component-major multivectors, over the basis' non-zero entries.

The basis of Pin-equivariant maps (:func:`noether.algebra.linear.linear_basis`; 9 maps in PGA)
is sparse: per channel pair, PGA's 9 maps fill 24 of the 256 entries of a 16x16 block, namely the
diagonal (grade projections) and 8 entries ``e0 ^ e_A <- e_A``. With ``x: (dim, n, in)`` in the
internal layout (:mod:`noether.gatr.primitives.layout`) the map is

- one ``bmm`` for the diagonal: component ``k`` is multiplied by ``sum_a basis[a, k, k] W_a``;
- one ``baddbmm`` for the off-diagonal entries. In the internal order of a projective algebra
  they take position ``j`` to ``j + dim/2``, so this reads ``x[:dim/2]`` and adds into
  ``y[dim/2:]`` without a gather; other algebras fall back to a gather and an ``index_add``.

That is ``24 * in * out`` multiply-adds per token in PGA instead of the dense ``256 * in * out``.

:func:`equi_linear` adds the auxiliary scalar channels (bias on the scalar blade only) and runs
forward and backward as one fused autograd function: no zero-filled gradients of slices, no
copies of concatenations (see :mod:`noether.gatr.primitives.fused`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

import torch
import torch.nn.functional as F
from torch import Tensor

from noether.algebra import Algebra
from noether.algebra.linear import linear_basis
from noether.gatr.primitives.fused import differentiable_backward, save_inputs, saved_inputs
from noether.gatr.primitives.layout import layout

__all__ = [
    "LinearPlan",
    "equi_linear",
    "equi_linear_reference",
    "equivariant_linear",
    "linear_plan",
]


@dataclass(frozen=True, eq=False)
class LinearPlan:
    """The non-zero entries of an algebra's equivariant maps, in internal component order."""

    algebra: Algebra

    @cached_property
    def n_basis(self) -> int:
        return linear_basis(self.algebra).n_basis

    @cached_property
    def _entries(self) -> list[tuple[int, int, int, float]]:
        """``(k, j, a, value)``: map ``a`` takes internal component ``j`` to ``k``."""
        pos = layout(self.algebra).position
        maps = linear_basis(self.algebra).maps
        return [(pos[k], pos[j], a, v) for a, m in enumerate(maps) for k, j, v in m]

    @cached_property
    def off_pairs(self) -> tuple[tuple[int, int], ...]:
        """The off-diagonal ``(k, j)`` pairs, sorted."""
        return tuple(sorted({(k, j) for k, j, _, _ in self._entries if k != j}))

    @cached_property
    def shifted(self) -> bool:
        """True when the off-diagonal pairs are exactly ``(j + dim/2, j)`` for all ``j < dim/2``."""
        half = self.algebra.dim // 2
        return self.off_pairs == tuple((j + half, j) for j in range(half))

    @cached_property
    def nnz(self) -> int:
        """Non-zero entries per channel pair (PGA: 24)."""
        return len({(k, j) for k, j, _, _ in self._entries})

    def tensors(self, device: torch.device, dtype: torch.dtype):
        """``(diagonal (dim, n_basis), off (n_off, n_basis), off_out, off_in)``, cached."""
        return _tensors(self, device, dtype)


@cache
def linear_plan(algebra: Algebra) -> LinearPlan:
    """The :class:`LinearPlan` of ``algebra`` (one per algebra)."""
    return LinearPlan(algebra)


@cache
def _tensors(plan: LinearPlan, device: torch.device, dtype: torch.dtype):
    dim = plan.algebra.dim
    diagonal = torch.zeros(dim, plan.n_basis, dtype=torch.float64)
    where = {pair: i for i, pair in enumerate(plan.off_pairs)}
    off = torch.zeros(len(where), plan.n_basis, dtype=torch.float64)
    for k, j, a, value in plan._entries:
        if k == j:
            diagonal[k, a] += value
        else:
            off[where[(k, j)], a] += value
    as_long = lambda v: torch.tensor(v, dtype=torch.long, device=device)  # noqa: E731
    return (
        diagonal.to(device=device, dtype=dtype),
        off.to(device=device, dtype=dtype),
        as_long([k for k, _ in plan.off_pairs]),
        as_long([j for _, j in plan.off_pairs]),
    )


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
    plan = linear_plan(algebra)
    dim, _, c_in = x.shape
    c_out = weight.shape[0]
    diagonal, off, off_out, off_in = plan.tensors(x.device, x.dtype)
    w = weight.permute(2, 1, 0).reshape(plan.n_basis, c_in * c_out)
    y = torch.bmm(x, (diagonal @ w).view(dim, c_in, c_out))
    if not plan.off_pairs:
        return y
    w_off = (off @ w).view(-1, c_in, c_out)
    if plan.shifted:
        half = dim // 2
        y[half:].baddbmm_(x[:half], w_off)
        return y
    return y.index_add(0, off_out, torch.bmm(x.index_select(0, off_in), w_off))


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
        plan = linear_plan(algebra)
        diagonal, off, off_out, off_in = plan.tensors(x.device, x.dtype)
        dim, n, c_in = x.shape
        c_out = weight.shape[0]
        w = weight.permute(2, 1, 0).reshape(plan.n_basis, c_in * c_out)
        w_diag = (diagonal @ w).view(dim, c_in, c_out)
        y = torch.bmm(x, w_diag)
        if plan.off_pairs:
            w_off = (off @ w).view(-1, c_in, c_out)
            if plan.shifted:
                half = dim // 2
                y[half:].baddbmm_(x[:half], w_off)
            else:
                y.index_add_(0, off_out, torch.bmm(x.index_select(0, off_in), w_off))
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
        diagonal, off, off_out, off_in = plan.tensors(x.device, x.dtype)
        dim, _, c_in = x.shape
        c_out = weight.shape[0]
        grad_y = grad_y.contiguous()
        has_s_out = mv_to_s is not None and grad_s is not None
        w = weight.permute(2, 1, 0).reshape(plan.n_basis, c_in * c_out)
        w_diag = (diagonal @ w).view(dim, c_in, c_out)
        w_off = (off @ w).view(-1, c_in, c_out) if plan.off_pairs else None
        half = dim // 2

        gx = gs = gw = gb = g_s2mv = g_mv2s = g_s2s = gbs = None
        if needs[1]:
            gx = torch.bmm(grad_y, w_diag.transpose(1, 2))
            if w_off is not None:
                if plan.shifted:
                    gx[:half].baddbmm_(grad_y[half:], w_off.transpose(1, 2))
                else:
                    gx.index_add_(
                        0, off_in, torch.bmm(grad_y.index_select(0, off_out), w_off.transpose(1, 2))
                    )
            if has_s_out:
                gx[0].addmm_(grad_s, mv_to_s)
        if needs[3]:
            g_diag = torch.bmm(x.transpose(1, 2), grad_y).view(dim, -1)
            g_w = diagonal.t() @ g_diag
            if w_off is not None:
                if plan.shifted:
                    g_off = torch.bmm(x[:half].transpose(1, 2), grad_y[half:])
                else:
                    g_off = torch.bmm(
                        x.index_select(0, off_in).transpose(1, 2), grad_y.index_select(0, off_out)
                    )
                g_w += off.t() @ g_off.view(g_off.shape[0], -1)
            gw = g_w.view(plan.n_basis, c_in, c_out).permute(2, 1, 0)
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
