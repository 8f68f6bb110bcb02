"""The sparse component-major kernels of a Clifford algebra: bilinear products and linear maps.

Every kernel here works on **component-major** data: a tensor ``(dim, *rest)`` holds one row of
``rest`` numbers per blade (``rest`` may be ``(n,)`` or ``(n, channels)``, and the rows may be
strided views such as channel slices). :class:`~noether.algebra.Algebra` (public ``(..., dim)``)
and :mod:`noether.gatr.primitives` (internal ``(dim, n, channels)``) are thin layout wrappers over
these functions; :mod:`noether.algebra.reference` holds the dense formulations they are tested
against.

**Bilinear products** (geometric, outer, join, and their adjoints). Each non-zero table entry
``(i, j, k, c)`` is one fused ``out[k] += c * x[i] * y[j]`` over a row. Two schedules, chosen by
the size of the gather's intermediate, ``dout * table.width * x[0].numel()`` numbers:

- gather (up to ``GATHER_MAX``): every term at once, padded per output component with the signs
  folded into the gather, then one reduction: five operations whatever the table. For few
  products the hundreds of row operations cost more in dispatch than in arithmetic;
- rows (beyond): one ``addcmul_`` per non-zero entry (192 for PGA's geometric product), each
  over three rows that stay in cache, where the gathered terms would not.

The dense formulation (an ``einsum`` with the ``dim**3`` Cayley tensor, as in the reference GATr)
does ``dim**3`` multiply-adds per product; these do ``nnz``. The backward pass is the same kernel
with the table's adjoints (the gradient of a bilinear map is bilinear), so it costs what the
forward costs and stays differentiable for double backward. :func:`sparse_bilinear` is a torch
custom operator, ``noether::sparse_bilinear``, so ``torch.compile`` keeps it as one node.

**Equivariant linear maps** ``y[o] = sum_i sum_a weight[o, i, a] basis[a] x[i]`` on
``x: (dim, n, in)``: one ``bmm`` over the components for the diagonal entries of the basis (the
grade projections), and one more for the off-diagonal ones. When those take position ``j`` to
``j + dim/2`` (PGA's ``x -> e0 <x>_k`` in GATr's internal order) the second is a ``baddbmm_`` of
``x[:dim/2]`` into ``y[dim/2:]`` without a gather; otherwise a gather and an ``index_add``. PGA:
``24 * in * out`` multiply-adds per token instead of the dense ``256 * in * out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

import torch
from torch import Tensor

from noether.algebra.tables import Table, output_dim, resolve

__all__ = [
    "GATHER_MAX",
    "LinearPlan",
    "bilinear_kernel",
    "broadcast_shape",
    "constant",
    "equivariant_linear",
    "linear_grad_input",
    "linear_grad_weight",
    "linear_plan",
    "linear_weights",
    "sparse_bilinear",
]

GATHER_MAX = 1 << 20
"""Largest gathered intermediate (numbers; 4 MiB in float32) for which the gather schedule runs:
PGA's geometric product up to 4096 numbers per component (the algebra's threshold before the two
engines were merged; GATr's was 1024), EGA's up to 16384, CGA's up to 1024.
``benchmarks/bench_algebra.py --schedules`` times both schedules; on this shared machine the
crossing moved between runs (PGA: 1024 to 5000), because a fresh process page-faults every
gathered intermediate of a few MiB while a long-running one reuses the memory."""


def constant(values: tuple, device: torch.device, dtype: torch.dtype) -> Tensor:
    """A constant tensor, cached per (values, device, dtype); built in the graph under compile."""
    if torch.compiler.is_compiling():
        return torch.tensor(values, dtype=dtype, device=device)
    return _cached_constant(values, device, dtype)


@cache
def _cached_constant(values: tuple, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


# ------------------------------------------------------------------------- bilinear products
def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of two shapes (``torch.broadcast_shapes`` imports ``torch._refs``: 2 s)."""
    a, b = (1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)
    if any(i != j and 1 not in (i, j) for i, j in zip(a, b)):
        raise ValueError(f"the leading shapes {a} and {b} do not broadcast")
    return tuple(j if i == 1 else i for i, j in zip(a, b))


@cache
def _padded_indices(table: Table, device: torch.device) -> tuple[Tensor | None, Tensor, int]:
    """Per-output padded gather indices ``(left, right, width)``.

    When every output takes each component of ``x`` exactly once (the geometric product of a
    non-degenerate algebra: CGA, EGA), the left gather is the identity (``left`` is None): the
    gathered ``y``, with the signs folded in from ``[y, -y]``, is multiplied by ``x`` in place,
    one gathered intermediate instead of three (CGA at 1000 products: a third of the time).
    The terms are summed in the same order as the general path, so the results are the same to
    the bit. Otherwise ``x`` is gathered from ``[x, -x, 0]`` to carry the signs and the padding.
    """
    dx, dy, dout = table.dims
    width = table.width
    aligned = all(sorted(i for i, _, _ in terms) == list(range(dx)) for terms in table.by_output)
    flat = lambda rows: torch.tensor([v for r in rows for v in r], dtype=torch.long, device=device)  # noqa: E731
    if aligned:
        right = [[0] * dx for _ in range(dout)]
        for k, terms in enumerate(table.by_output):
            for i, j, c in terms:
                right[k][i] = j if c > 0 else j + dy
        return None, flat(right), width
    left = [[2 * dx] * width for _ in range(dout)]
    right = [[0] * width for _ in range(dout)]
    for k, terms in enumerate(table.by_output):
        for t, (i, j, c) in enumerate(terms):
            left[k][t] = i if c > 0 else i + dx
            right[k][t] = j
    return flat(left), flat(right), width


def _rows(x: Tensor, y: Tensor, table: Table, out: Tensor) -> Tensor:
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


def _gather(x: Tensor, y: Tensor, table: Table, out: Tensor) -> Tensor:
    left, right, width = _padded_indices(table, x.device)
    dx, dy, dout = table.dims
    xf, yf = x.reshape(dx, -1), y.reshape(dy, -1)
    if left is None:  # every x row once per output: one gather (of the signed y) instead of two
        signed = torch.cat([yf, -yf])  # (2 dy, n)
        terms = signed.index_select(0, right).view(dout, dx, -1).mul_(xf)
    else:
        signed = torch.cat([xf, -xf, xf.new_zeros(1, xf.shape[1])])  # (2 dx + 1, n)
        terms = signed.index_select(0, left) * yf.index_select(0, right)  # (dout * width, n)
    torch.sum(terms.view(dout, width, -1), 1, out=out.view(dout, -1))
    return out


def bilinear_kernel(x: Tensor, y: Tensor, table: Table, out: Tensor | None = None) -> Tensor:
    """``out[k] = sum over entries (i, j, k, c) of c * x[i] * y[j]``, without autograd.

    Args:
        x: ``(dx, *rest)``; y: ``(dy, *rest)`` with the same ``rest``, dtype and device; rows may
            be strided views (channel slices).
        table: the non-zero entries, in the component order of ``x`` and ``y``.
        out: optional contiguous ``(dout, *rest)`` to write into.

    Returns:
        ``(dout, *rest)``, contiguous.
    """
    if out is None:
        out = x.new_empty(table.dims[2], *x.shape[1:])
    if table.dims[2] * table.width * x[0].numel() <= GATHER_MAX:
        return _gather(x, y, table, out)
    return _rows(x, y, table, out)


@torch.library.custom_op("noether::sparse_bilinear", mutates_args=())
def _sparse_bilinear_op(x: Tensor, y: Tensor, table: str) -> Tensor:
    return bilinear_kernel(x, y, resolve(table))


@_sparse_bilinear_op.register_fake
def _(x: Tensor, y: Tensor, table: str) -> Tensor:
    return x.new_empty(output_dim(table), *x.shape[1:])


def _setup_context(ctx, inputs, output) -> None:
    x, y, table = inputs
    ctx.save_for_backward(x, y)
    ctx.table = table


def _backward(ctx, grad: Tensor):
    x, y = ctx.saved_tensors
    grad = grad.contiguous()
    gx = _sparse_bilinear_op(grad, y, f"{ctx.table}.grad_x") if ctx.needs_input_grad[0] else None
    gy = _sparse_bilinear_op(x, grad, f"{ctx.table}.grad_y") if ctx.needs_input_grad[1] else None
    return gx, gy, None


_sparse_bilinear_op.register_autograd(_backward, setup_context=_setup_context)


def sparse_bilinear(x: Tensor, y: Tensor, table: Table) -> Tensor:
    """:func:`bilinear_kernel` with autograd (every order): ``(dx, *rest), (dy, *rest) ->
    (dout, *rest)``. The torch custom operator ``noether::sparse_bilinear``: ``torch.compile``
    sees one opaque node (no graph break, no tracing of the per-entry loop)."""
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"x and y must agree after the component axis, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    return _sparse_bilinear_op(x, y, table.name)


# ------------------------------------------------------------------------ equivariant linear
@dataclass(frozen=True, eq=False)
class LinearPlan:
    """The non-zero entries of a basis of linear maps, in the component order of the data.

    ``entries`` are ``(k, j, a, value)``: map ``a`` takes component ``j`` to ``k``.
    """

    dim: int
    n_basis: int
    entries: tuple[tuple[int, int, int, float], ...]

    @cached_property
    def off_pairs(self) -> tuple[tuple[int, int], ...]:
        """The off-diagonal ``(k, j)`` pairs, sorted."""
        return tuple(sorted({(k, j) for k, j, _, _ in self.entries if k != j}))

    @cached_property
    def shifted(self) -> bool:
        """True when the off-diagonal pairs are exactly ``(j + dim/2, j)`` for all ``j < dim/2``."""
        half = self.dim // 2
        return self.off_pairs == tuple((j + half, j) for j in range(half))

    @cached_property
    def nnz(self) -> int:
        """Non-zero entries per channel pair (PGA: 24)."""
        return len({(k, j) for k, j, _, _ in self.entries})

    def tensors(self, device: torch.device, dtype: torch.dtype):
        """``(diagonal (dim, n_basis), off (n_off, n_basis), off_out, off_in)``, cached; built
        in the graph under ``torch.compile`` (the compiler would only trace through a cache)."""
        if torch.compiler.is_compiling():
            return _build_tensors(self, device, dtype)
        return _tensors(self, device, dtype)


@cache
def linear_plan(
    maps: tuple[tuple[tuple[int, int, float], ...], ...], position: tuple[int, ...]
) -> LinearPlan:
    """The plan of the basis ``maps`` (``maps[a]``: entries ``(k, j, value)`` in canonical blade
    order) for data whose canonical blade ``i`` sits at component ``position[i]``."""
    entries = tuple((position[k], position[j], a, v) for a, m in enumerate(maps) for k, j, v in m)
    return LinearPlan(len(position), len(maps), entries)


def _build_tensors(plan: LinearPlan, device: torch.device, dtype: torch.dtype):
    diagonal = torch.zeros(plan.dim, plan.n_basis, dtype=torch.float64)
    where = {pair: i for i, pair in enumerate(plan.off_pairs)}
    off = torch.zeros(len(where), plan.n_basis, dtype=torch.float64)
    for k, j, a, value in plan.entries:
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


_tensors = cache(_build_tensors)


def linear_weights(plan: LinearPlan, weight: Tensor) -> tuple[Tensor, Tensor | None]:
    """The per-component weights: ``weight (out, in, n_basis) -> (w_diag (dim, in, out),
    w_off (n_off, in, out) or None)``."""
    diagonal, off, _, _ = plan.tensors(weight.device, weight.dtype)
    c_out, c_in, _ = weight.shape
    w = weight.permute(2, 1, 0).reshape(plan.n_basis, c_in * c_out)
    w_diag = (diagonal @ w).view(plan.dim, c_in, c_out)
    w_off = (off @ w).view(-1, c_in, c_out) if plan.off_pairs else None
    return w_diag, w_off


def _linear(plan: LinearPlan, x: Tensor, w_diag: Tensor, w_off: Tensor | None) -> Tensor:
    y = torch.bmm(x, w_diag)  # (dim, n, out)
    if w_off is None:
        return y
    if plan.shifted:
        half = plan.dim // 2
        y[half:].baddbmm_(x[:half], w_off)
        return y
    _, _, off_out, off_in = plan.tensors(x.device, x.dtype)
    return y.index_add_(0, off_out, torch.bmm(x.index_select(0, off_in), w_off))


def equivariant_linear(plan: LinearPlan, x: Tensor, weight: Tensor) -> Tensor:
    """``y[o] = sum_i sum_a weight[o, i, a] basis[a] x[i]`` on component-major data.

    Args:
        plan: the basis in the component order of ``x`` (:func:`linear_plan`).
        x: ``(dim, n, in)``; a channel slice of a larger tensor is fine.
        weight: ``(out, in, n_basis)``, same dtype and device.

    Returns:
        ``(dim, n, out)``, contiguous. Plain autograd: differentiable to every order.
    """
    return _linear(plan, x, *linear_weights(plan, weight))


def linear_grad_input(
    plan: LinearPlan, grad: Tensor, w_diag: Tensor, w_off: Tensor | None
) -> Tensor:
    """The gradient of :func:`equivariant_linear` for ``x``: ``grad (dim, n, out) -> (dim, n, in)``
    (the adjoint map: the same kernel with transposed weights)."""
    gx = torch.bmm(grad, w_diag.transpose(1, 2))
    if w_off is None:
        return gx
    if plan.shifted:
        half = plan.dim // 2
        gx[:half].baddbmm_(grad[half:], w_off.transpose(1, 2))
        return gx
    _, _, off_out, off_in = plan.tensors(grad.device, grad.dtype)
    return gx.index_add_(0, off_in, torch.bmm(grad.index_select(0, off_out), w_off.transpose(1, 2)))


def linear_grad_weight(plan: LinearPlan, x: Tensor, grad: Tensor) -> Tensor:
    """The gradient of :func:`equivariant_linear` for ``weight``: ``x (dim, n, in), grad
    (dim, n, out) -> (out, in, n_basis)``."""
    diagonal, off, off_out, off_in = plan.tensors(x.device, x.dtype)
    dim, _, c_in = x.shape
    c_out = grad.shape[2]
    g_w = diagonal.t() @ torch.bmm(x.transpose(1, 2), grad).view(dim, -1)
    if plan.off_pairs:
        if plan.shifted:
            half = dim // 2
            g_off = torch.bmm(x[:half].transpose(1, 2), grad[half:])
        else:
            g_off = torch.bmm(
                x.index_select(0, off_in).transpose(1, 2), grad.index_select(0, off_out)
            )
        g_w += off.t() @ g_off.view(g_off.shape[0], -1)
    return g_w.view(plan.n_basis, c_in, c_out).permute(2, 1, 0)
