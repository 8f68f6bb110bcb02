"""Geometric product and join on component-major multivectors: layout wrappers over the kernels.

With ``x, y: (dim, n, channels)`` in the internal layout, the products are
:func:`noether.algebra.kernels.sparse_bilinear` with the tables in internal order
(:class:`~noether.gatr.primitives.layout.Layout`): one fused row operation per non-zero table
entry over ``n * channels`` numbers (192 for PGA's geometric product, of the 4096 entries of the
dense Cayley tensor that the reference GATr contracts; 81 for its join), or a gather for few
numbers. The backward pass runs the same kernel with the adjoint tables (double backward too).

Channel slices of a larger tensor are accepted as inputs: the rows are then strided views.
:func:`geometric_bilinear` fuses the products and joins of a layer into one autograd function.
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.algebra import Algebra
from noether.algebra.kernels import bilinear_kernel, sparse_bilinear
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
        products = bilinear_kernel(xl, xr, lay.geometric)
        if not j:
            return products
        return torch.cat([products, bilinear_kernel(jl * pseudoscalar, jr, lay.join)], -1)

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            return differentiable_backward(ctx, geometric_bilinear_reference, (grad,))
        algebra, z, pseudoscalar, g, j = saved_inputs(ctx)
        lay = layout(algebra)
        xl, xr, jl, jr = (t.contiguous() for t in z.split([g, g, j, j], -1))
        g_gp, g_join = (t.contiguous() for t in grad.split([g, j], -1))
        gp, jn = lay.geometric, lay.join
        parts = [bilinear_kernel(g_gp, xr, gp.grad_x), bilinear_kernel(xl, g_gp, gp.grad_y)]
        g_ps = None
        if j:
            g_left = bilinear_kernel(g_join, jr, jn.grad_x)
            parts += [g_left * pseudoscalar, bilinear_kernel(jl * pseudoscalar, g_join, jn.grad_y)]
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
