"""Sparse kernels for the bilinear products of a Clifford algebra, over non-zero entries only.

A product is evaluated on component-major data (one contiguous row of length ``n`` per blade), so
each non-zero table entry ``(i, j, k, c)`` is one fused ``out[k] += c * x[i] * y[j]`` over ``n``
numbers. Two schedules, chosen by batch size:

- many products (``n >= ROWS_MIN``): one ``addcmul_`` per non-zero entry (192 for PGA's geometric
  product). Each touches three rows that stay in cache; the per-call overhead is a few hundred
  small operations, paid back above a few thousand products.
- few products: a gather of the entries, padded per output component, with the signs folded into
  the gather, then one reduction: five operations whatever the table, in chunks that fit in cache.

The dense formulation (``einsum`` with the ``dim**3`` Cayley tensor, as in the reference GATr)
does ``dim**3`` multiply-adds per product; these do ``nnz``. The backward pass is the same kernel
with the table's adjoints (the gradient of a bilinear map is bilinear), so it costs what the
forward costs and stays differentiable for double backward (forces from energies). The kernel is
a torch custom operator, ``noether::sparse_bilinear``, so ``torch.compile`` keeps it as one node.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from noether.algebra.tables import Table, output_dim, resolve

ROWS_MIN = 4096
"""Batch size from which the one-operation-per-entry schedule is used."""

_CHUNK_ELEMENTS = 1 << 19
"""Elements of the gathered intermediate per chunk in the gather schedule (2 MiB in float32)."""


def constant(values: tuple, device: torch.device, dtype: torch.dtype) -> Tensor:
    """A constant tensor, cached per (values, device, dtype); built in the graph under compile."""
    if torch.compiler.is_compiling():
        return torch.tensor(values, dtype=dtype, device=device)
    return _cached_constant(values, device, dtype)


@cache
def _cached_constant(values: tuple, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


@cache
def _padded_indices(table: Table, device: torch.device) -> tuple[Tensor, Tensor, int]:
    """Per-output padded gather indices; ``x`` is gathered from ``[x, -x, 0]`` to carry signs."""
    dx, _, dout = table.dims
    width = max((len(terms) for terms in table.by_output), default=0) or 1
    left = [[2 * dx] * width for _ in range(dout)]
    right = [[0] * width for _ in range(dout)]
    for k, terms in enumerate(table.by_output):
        for t, (i, j, c) in enumerate(terms):
            left[k][t] = i if c > 0 else i + dx
            right[k][t] = j
    flat = lambda rows: torch.tensor([v for r in rows for v in r], dtype=torch.long, device=device)  # noqa: E731
    return flat(left), flat(right), width


def _rows_kernel(xt: Tensor, yt: Tensor, table: Table) -> Tensor:
    out = xt.new_empty(table.dims[2], xt.shape[1])
    for k, terms in enumerate(table.by_output):
        row = out[k]
        if not terms:
            row.zero_()
            continue
        (i, j, c), *rest = terms
        torch.mul(xt[i], yt[j], out=row)
        if c < 0:
            row.neg_()
        for i, j, c in rest:
            row.addcmul_(xt[i], yt[j], value=c)
    return out


def _gather_kernel(xt: Tensor, yt: Tensor, table: Table) -> Tensor:
    left, right, width = _padded_indices(table, xt.device)
    dout, n = table.dims[2], xt.shape[1]
    signed = torch.cat([xt, -xt, xt.new_zeros(1, n)])
    out = xt.new_empty(dout, n)
    chunk = max(1, _CHUNK_ELEMENTS // (dout * width))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        terms = signed[:, start:stop].index_select(0, left) * yt[:, start:stop].index_select(
            0, right
        )
        torch.sum(terms.view(dout, width, stop - start), 1, out=out[:, start:stop])
    return out


def _apply(x: Tensor, y: Tensor, table: Table) -> Tensor:
    """``x: (n, dx)``, ``y: (n, dy)`` -> ``(n, dout)`` without autograd."""
    if x.shape[0] >= ROWS_MIN:  # stacking the columns transposes twice as fast as t().contiguous()
        out = _rows_kernel(torch.stack(x.unbind(1)), torch.stack(y.unbind(1)), table)
    else:
        out = _gather_kernel(x.t().contiguous(), y.t().contiguous(), table)
    return out.t().contiguous()


@torch.library.custom_op("noether::sparse_bilinear", mutates_args=())
def sparse_bilinear(x: Tensor, y: Tensor, table: str) -> Tensor:
    """``x: (n, dx)``, ``y: (n, dy)`` -> ``(n, dout)`` for the registered table named ``table``.

    A torch custom operator: ``torch.compile`` sees one opaque node (no graph break, no tracing
    of the per-entry loop), and autograd uses the adjoint tables.
    """
    return _apply(x, y, resolve(table))


@sparse_bilinear.register_fake
def _(x: Tensor, y: Tensor, table: str) -> Tensor:
    return x.new_empty(x.shape[0], output_dim(table))


def _setup_context(ctx, inputs, output) -> None:
    x, y, table = inputs
    ctx.save_for_backward(x, y)
    ctx.table = table


def _backward(ctx, grad: Tensor):
    x, y = ctx.saved_tensors
    grad = grad.contiguous()
    gx = sparse_bilinear(grad, y, f"{ctx.table}.grad_x") if ctx.needs_input_grad[0] else None
    gy = sparse_bilinear(x, grad, f"{ctx.table}.grad_y") if ctx.needs_input_grad[1] else None
    return gx, gy, None


sparse_bilinear.register_autograd(_backward, setup_context=_setup_context)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of two shapes (``torch.broadcast_shapes`` imports ``torch._refs``: 2 s)."""
    a, b = (1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)
    if any(i != j and 1 not in (i, j) for i, j in zip(a, b)):
        raise ValueError(f"the leading shapes {a} and {b} do not broadcast")
    return tuple(j if i == 1 else i for i, j in zip(a, b))


def bilinear(x: Tensor, y: Tensor, table: Table) -> Tensor:
    """``out[..., k] = sum over entries (i, j, k, c) of c * x[..., i] * y[..., j]``.

    Args:
        x: ``(..., dx)``; y: ``(..., dy)``; leading dimensions broadcast. Same floating dtype and
            device (mixed float dtypes are promoted).
        table: the sparse table of the product.

    Returns:
        ``(..., dout)`` with the broadcast leading shape.
    """
    dx, dy, dout = table.dims
    dtype = torch.promote_types(x.dtype, y.dtype)
    batch = broadcast_shape(x.shape[:-1], y.shape[:-1])
    x2 = (x if x.dtype == dtype else x.to(dtype)).expand(*batch, dx).reshape(-1, dx)
    y2 = (y if y.dtype == dtype else y.to(dtype)).expand(*batch, dy).reshape(-1, dy)
    if x2.shape[0] == 0:
        return x2.new_zeros(*batch, dout)
    return sparse_bilinear(x2, y2, table.name).reshape(*batch, dout)
