"""The component-major layout in which GATr computes, and the algebra's tables in its order.

Public tensors are ``mv: (..., tokens, channels, alg.dim)``. Inside the network a multivector
batch is one tensor ``x: (dim, n, channels)`` with ``n`` the flattened batch and tokens:

- an equivariant linear map is then one batched GEMM over the components (``torch.bmm``), with
  no gather of its sparse basis;
- each non-zero entry of a product table is one fused row operation over ``n * channels``
  numbers (see :mod:`noether.algebra.kernels`, which both layouts share).

The components are also reordered: the **non-degenerate** blades first (those the inner product
sees), then the degenerate ones (PGA: ``1, e1, e2, e3, e12, e13, e23, e123`` then ``e0, e01,
e02, e03, e012, e013, e023, e0123``). The invariants are then the contiguous slice
``x[:n_nondegenerate]``, and in PGA the maps ``x -> e0 <x>_k`` take ``x[:8]`` to ``x[8:]``
component by component. Non-degenerate algebras keep the canonical order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

import torch
from torch import Tensor

from noether.algebra import Algebra
from noether.algebra.kernels import LinearPlan
from noether.algebra.tables import Table

__all__ = ["Layout", "from_internal", "layout", "to_internal"]


@dataclass(frozen=True, eq=False)
class Layout:
    """The internal component order of an algebra and everything indexed by it."""

    algebra: Algebra

    @cached_property
    def order(self) -> tuple[int, ...]:
        """``order[p]``: the canonical blade index at internal position ``p``."""
        metric = self.algebra.blade_metric
        nondegenerate = [i for i, m in enumerate(metric) if m]
        degenerate = [i for i, m in enumerate(metric) if not m]
        return tuple(nondegenerate + degenerate)

    @cached_property
    def position(self) -> tuple[int, ...]:
        """``position[i]``: the internal position of canonical blade ``i``."""
        out = [0] * self.algebra.dim
        for p, i in enumerate(self.order):
            out[i] = p
        return tuple(out)

    @property
    def dim(self) -> int:
        return self.algebra.dim

    @cached_property
    def n_nondegenerate(self) -> int:
        """Number of blades without a null basis vector (the first ones internally)."""
        return sum(1 for m in self.algebra.blade_metric if m)

    @cached_property
    def metric(self) -> tuple[int, ...]:
        """``<reverse(e_A) e_A>_0`` per internal position (+-1 for the first ``n_nondegenerate``)."""
        return tuple(self.algebra.blade_metric[i] for i in self.order)

    @cached_property
    def euclidean_metric(self) -> bool:
        """True when every non-degenerate blade has metric +1 (EGA, PGA)."""
        return all(m == 1 for m in self.metric[: self.n_nondegenerate])

    @cached_property
    def grades(self) -> tuple[int, ...]:
        """Grade per internal position."""
        return tuple(self.algebra.grades[i] for i in self.order)

    @cached_property
    def pseudoscalar(self) -> int:
        """Internal position of the non-degenerate pseudoscalar (``e123`` in PGA)."""
        return self.position[self.algebra.nondegenerate_pseudoscalar_index]

    @cached_property
    def geometric(self) -> Table:
        """The geometric product in internal order."""
        return self.algebra.tables.geometric.permuted(self.position, "internal")

    @cached_property
    def join(self) -> Table:
        """The regressive product (join) in internal order."""
        return self.algebra.tables.regressive.permuted(self.position, "internal")

    @cached_property
    def linear(self) -> LinearPlan:
        """The basis of equivariant linear maps in internal order (the kernel's plan)."""
        return self.algebra.linear_basis.plan(self.position)

    def indices(self, name: str, device: torch.device) -> Tensor:
        """Cached index tensors: ``"order"`` or ``"position"``."""
        return _index(self, name, device)

    def signs(self, device: torch.device, dtype: torch.dtype) -> Tensor:
        """The metric of the non-degenerate blades as a ``(n_nondegenerate, 1, 1)`` tensor."""
        return _signs(self, device, dtype)


@cache
def layout(algebra: Algebra) -> Layout:
    """The :class:`Layout` of ``algebra`` (one per algebra)."""
    return Layout(algebra)


@cache
def _index(lay: Layout, name: str, device: torch.device) -> Tensor:
    return torch.tensor(getattr(lay, name), dtype=torch.long, device=device)


@cache
def _signs(lay: Layout, device: torch.device, dtype: torch.dtype) -> Tensor:
    values = lay.metric[: lay.n_nondegenerate]
    return torch.tensor(values, dtype=dtype, device=device).view(-1, 1, 1)


def _identity(lay: Layout) -> bool:
    return lay.order == tuple(range(lay.dim))


def to_internal(algebra: Algebra, mv: Tensor) -> Tensor:
    """``(..., channels, dim) -> (dim, n, channels)`` in internal component order (one copy)."""
    lay = layout(algebra)
    channels = mv.shape[-2]
    x = mv.reshape(-1, channels, lay.dim).permute(2, 0, 1)
    if _identity(lay):
        return x.contiguous()
    return x.index_select(0, lay.indices("order", mv.device))


def from_internal(algebra: Algebra, x: Tensor, batch_shape: tuple[int, ...]) -> Tensor:
    """``(dim, n, channels) -> (*batch_shape, channels, dim)`` in canonical order (one copy)."""
    lay = layout(algebra)
    y = x.permute(1, 2, 0)
    if _identity(lay):
        y = y.contiguous()
    else:
        y = y.index_select(-1, lay.indices("position", x.device))
    return y.reshape(*batch_shape, x.shape[2], lay.dim)
