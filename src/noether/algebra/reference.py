"""The dense formulations of the algebra's maps: the oracle of the sparse kernels' tests.

How the reference GATr computes: an ``einsum`` with the dense ``dim**3`` Cayley tensor for a
bilinear product, and with the dense ``(n_basis, dim, dim)`` basis for an equivariant linear map.
Slow (``dim**3`` and ``dim**2`` multiply-adds where :mod:`noether.algebra.kernels` does the
non-zero entries only) and obviously right; nothing in the library calls them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.algebra.tables import Table

__all__ = ["cayley_tensor", "dense_bilinear", "dense_linear"]


def cayley_tensor(table: Table, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """``(dx, dy, dout)`` with ``cayley[i, j, k] = c`` for every entry ``(i, j, k, c)``."""
    out = torch.zeros(table.dims, dtype=dtype, device=device)
    for i, j, k, c in table.entries:
        out[i, j, k] = c
    return out


def dense_bilinear(x: Tensor, y: Tensor, table: Table) -> Tensor:
    """``(..., dx), (..., dy) -> (..., dout)``: ``einsum("ijk,...i,...j->...k", cayley, x, y)``."""
    cayley = cayley_tensor(table, dtype=torch.promote_types(x.dtype, y.dtype), device=x.device)
    return torch.einsum("ijk,...i,...j->...k", cayley, x, y)


def dense_linear(x: Tensor, weight: Tensor, basis: Tensor) -> Tensor:
    """``(..., in, dim), (out, in, n_basis), (n_basis, dim, dim) -> (..., out, dim)``:
    ``einsum("oia,akj,...ij->...ok", weight, basis, x)``."""
    return torch.einsum("oia,akj,...ij->...ok", weight, basis.to(x.dtype), x)
