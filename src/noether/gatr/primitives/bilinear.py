"""Sparse bilinear products on component-major multivectors: geometric product and join.

With ``x, y: (dim, n, channels)`` in the internal layout, every non-zero entry ``(i, j, k, c)``
of a product table is one fused row operation ``out[k] += c * x[i] * y[j]`` over ``n * channels``
numbers: 192 for PGA's geometric product (of the 4096 entries of the dense Cayley tensor that
the reference GATr contracts), 81 for its join, 512 for EGA... The backward pass runs the same
kernel with the adjoint tables, so it costs twice the forward and stays differentiable (double
backward, for forces from energies).

Channel slices of a larger tensor are accepted as inputs: the rows are then strided views and
nothing is copied. Few numbers per component (``n * channels <= GATHER_MAX``: small batches,
where the hundreds of row operations would cost more in dispatch than in arithmetic) use a
gather schedule instead: every term at once, padded per output, then one signed sum.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from noether.algebra import Algebra
from noether.algebra.tables import Table
from noether.gatr.primitives.fused import differentiable_backward, save_inputs, saved_inputs
from noether.gatr.primitives.layout import layout

__all__ = [
    "equivariant_join",
    "geometric_bilinear",
    "geometric_bilinear_reference",
    "geometric_product",
    "join",
    "sparse_bilinear",
]


GATHER_MAX = 1024
"""Up to this many numbers per component (``n * channels``) products use the gather schedule."""


@cache
def _padded(table: Table, device: torch.device) -> tuple[Tensor, Tensor, Tensor, int]:
    """Gather indices and signs with every output's terms padded to the same count."""
    width = max(len(terms) for terms in table.by_output)
    left, right, signs = [], [], []
    for terms in table.by_output:
        for t in range(width):
            i, j, c = terms[t] if t < len(terms) else (0, 0, 0)
            left.append(i)
            right.append(j)
            signs.append(float(c))
    as_long = lambda v: torch.tensor(v, dtype=torch.long, device=device)  # noqa: E731
    return as_long(left), as_long(right), torch.tensor(signs, device=device), width


def _gather(x: Tensor, y: Tensor, table: Table, out: Tensor | None = None) -> Tensor:
    """All terms at once: two gathers, a product, a signed sum (few numbers per component)."""
    left, right, signs, width = _padded(table, x.device)
    terms = x.index_select(0, left) * y.index_select(0, right)
    shape = (table.dims[2], width, *x.shape[1:])
    signs = signs.to(x.dtype).view(table.dims[2], width, *([1] * (x.ndim - 1)))
    result = (terms.view(shape) * signs).sum(1)
    if out is None:
        return result
    return out.copy_(result)


def _rows(x: Tensor, y: Tensor, table: Table, out: Tensor | None = None) -> Tensor:
    if x[0].numel() <= GATHER_MAX:
        return _gather(x, y, table, out)
    if out is None:
        out = x.new_empty(table.dims[2], *x.shape[1:])
    for k, terms in enumerate(table.by_output):
        row = out[k]
        if not terms:
            row.zero_()
            continue
        (i, j, c), *rest = terms
        torch.mul(x[i], y[j], out=row)
        if c < 0:
            row.neg_()
        for i, j, c in rest:
            row.addcmul_(x[i], y[j], value=c)
    return out


class _SparseBilinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, y: Tensor, table: Table) -> Tensor:
        ctx.save_for_backward(x, y)
        ctx.table = table
        return _rows(x, y, table)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, y = ctx.saved_tensors
        table: Table = ctx.table
        gx = _SparseBilinear.apply(grad, y, table.grad_x) if ctx.needs_input_grad[0] else None
        gy = _SparseBilinear.apply(x, grad, table.grad_y) if ctx.needs_input_grad[1] else None
        return gx, gy, None


def sparse_bilinear(x: Tensor, y: Tensor, table: Table) -> Tensor:
    """``out[k] = sum over entries (i, j, k, c) of c * x[i] * y[j]``.

    Args:
        x: ``(dx, *rest)``; y: ``(dy, *rest)`` with the same ``rest``, dtype and device.
        table: the non-zero entries, indexed in the same component order as ``x`` and ``y``.

    Returns:
        ``(dout, *rest)``, contiguous.
    """
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"x and y must agree after the component axis, got {x.shape} and {y.shape}"
        )
    return _SparseBilinear.apply(x, y, table)


def geometric_product(algebra: Algebra, x: Tensor, y: Tensor) -> Tensor:
    """``x y`` per channel: ``(dim, n, c), (dim, n, c) -> (dim, n, c)`` in internal order."""
    return sparse_bilinear(x, y, layout(algebra).geometric)


def join(algebra: Algebra, x: Tensor, y: Tensor) -> Tensor:
    """The regressive product ``x v y`` per channel, in internal order.

    Equivariant under even versors; odd versors flip its sign (see :func:`equivariant_join`).
    """
    return sparse_bilinear(x, y, layout(algebra).join)


def equivariant_join(algebra: Algebra, x: Tensor, y: Tensor, pseudoscalar: Tensor) -> Tensor:
    """``pseudoscalar * join(x, y)``: the join made Pin-equivariant, as in GATr.

    Args:
        x, y: ``(dim, n, c)`` in internal order.
        pseudoscalar: ``(n, 1)`` (or broadcastable to ``(n, c)``): the non-degenerate
            pseudoscalar component (``e123``) of a reference multivector that transforms like the
            data, such as the mean input. It flips sign under odd versors exactly as the join
            does, so the product is equivariant.
    """
    return join(algebra, x * pseudoscalar, y)


def geometric_bilinear_reference(
    algebra: Algebra, z: Tensor, pseudoscalar: Tensor | None, n_gp: int, n_join: int
) -> Tensor:
    """Plain-autograd :func:`geometric_bilinear`."""
    parts = z.split([n_gp, n_gp, n_join, n_join], -1)
    y = geometric_product(algebra, parts[0], parts[1])
    if not n_join:
        return y
    return torch.cat([y, equivariant_join(algebra, parts[2], parts[3], pseudoscalar)], -1)


class _GeometricBilinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, algebra, z, pseudoscalar, n_gp, n_join):
        save_inputs(ctx, (algebra, z, pseudoscalar, n_gp, n_join))
        lay = layout(algebra)
        g, j = n_gp, n_join
        # contiguous operands: the row operations then stream memory (a third faster than on
        # channel slices), for two copies of the factors and one of the products
        xl, xr, jl, jr = (t.contiguous() for t in z.split([g, g, j, j], -1))
        products = _rows(xl, xr, lay.geometric)
        if not j:
            return products
        return torch.cat([products, _rows(jl * pseudoscalar, jr, lay.join)], -1)

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, geometric_bilinear_reference, (grad,))
        algebra, z, pseudoscalar, g, j = saved_inputs(ctx)
        lay = layout(algebra)
        xl, xr, jl, jr = (t.contiguous() for t in z.split([g, g, j, j], -1))
        g_gp, g_join = (t.contiguous() for t in grad.split([g, j], -1))
        gp, jn = lay.geometric, lay.join
        parts = [_rows(g_gp, xr, gp.grad_x), _rows(xl, g_gp, gp.grad_y)]
        g_ps = None
        if j:
            g_left = _rows(g_join, jr, jn.grad_x)
            parts += [g_left * pseudoscalar, _rows(jl * pseudoscalar, g_join, jn.grad_y)]
        gz = torch.cat(parts, -1)
        if j:
            if ctx.needs_input_grad[2]:
                g_ps = (g_left * jl).sum(0)  # (n, c); a mul and a sum, not a tiny-bmm einsum
                if pseudoscalar.shape[-1] == 1:
                    g_ps = g_ps.sum(-1, keepdim=True)
        return None, gz, g_ps, None, None


def geometric_bilinear(
    algebra: Algebra, z: Tensor, pseudoscalar: Tensor | None, n_gp: int, n_join: int = 0
) -> Tensor:
    """Geometric products and equivariant joins of channel groups of ``z``, fused.

    Args:
        z: ``(dim, n, 2 * n_gp + 2 * n_join)`` internal layout: left and right factors of the
            ``n_gp`` geometric products, then left and right factors of the ``n_join`` joins.
        pseudoscalar: ``(n, 1)`` reference for the joins (see :func:`equivariant_join`), or
            ``None`` when ``n_join == 0``.

    Returns:
        ``(dim, n, n_gp + n_join)``: the products, then the joins (no concatenation copy).
    """
    if z.shape[-1] != 2 * (n_gp + n_join):
        raise ValueError(
            f"z must have 2 * (n_gp + n_join) = {2 * (n_gp + n_join)} channels, got {z.shape[-1]}"
        )
    if n_join and pseudoscalar is None:
        raise ValueError("the equivariant join needs the reference pseudoscalar")
    return _GeometricBilinear.apply(algebra, z.contiguous(), pseudoscalar, n_gp, n_join)
