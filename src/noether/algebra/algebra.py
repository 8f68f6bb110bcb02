"""The value type :class:`Algebra`: a Clifford algebra G(p, q, r) and its operations on tensors.

Conventions (those of the ``clifford`` and ``kingdon`` libraries and of GATr):

- basis vectors are ordered null first, then positive, then negative: ``metric`` is
  ``(0,)*r + (1,)*p + (-1,)*q``. They are named from ``e0`` when ``r == 1`` (so PGA has
  ``e0, e1, e2, e3`` with ``e0**2 == 0``) and from ``e1`` otherwise;
- blades are ordered by grade, then lexicographically: PGA's 16 components are
  ``1, e0, e1, e2, e3, e01, e02, e03, e12, e13, e23, e012, e013, e023, e123, e0123``;
- a multivector is a tensor whose last dimension has length ``alg.dim == 2**n``; every operation
  broadcasts over the leading dimensions.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from noether.algebra import kernels
from noether.algebra.linear import LinearBasis, linear_basis
from noether.algebra.tables import (
    CliffordTables,
    Table,
    blade_product,
    clifford_tables,
    reorder_sign,
)

MAX_GENERATORS = 10
"""Largest number of basis vectors accepted (a 1024-component multivector)."""


@dataclass(frozen=True)
class Algebra:
    """The Clifford algebra G(p, q, r): ``p`` basis vectors square to +1, ``q`` to -1, ``r`` to 0.

    An immutable, hashable value: ``Algebra(3, 0, 1) == PGA``. Tables are built once per
    algebra (and their tensors once per device and dtype) and shared by equal algebras.
    All operations take tensors ``(..., alg.dim)`` and broadcast over leading dimensions.
    """

    p: int
    q: int = 0
    r: int = 0

    def __post_init__(self) -> None:
        for name in ("p", "q", "r"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Algebra: {name} must be a non-negative int, got {value!r}")
        if not 1 <= self.p + self.q + self.r <= MAX_GENERATORS:
            raise ValueError(
                f"Algebra: p + q + r must be between 1 and {MAX_GENERATORS}, got "
                f"G({self.p},{self.q},{self.r})"
            )
        self.tables  # noqa: B018  (filled now: torch.compile then reads it as a constant)

    def __str__(self) -> str:
        return f"G({self.p},{self.q},{self.r})"

    def __reduce__(self):
        # pickled (checkpoints, DDP) as its signature alone; the tables are rebuilt or shared
        return (Algebra, (self.p, self.q, self.r))

    # ----------------------------------------------------------------------------- structure
    @cached_property
    def tables(self) -> CliffordTables:
        """The exact integer tables (shared by all equal algebras)."""
        return clifford_tables(self.metric)

    @property
    def n(self) -> int:
        """Number of basis vectors."""
        return self.p + self.q + self.r

    @property
    def dim(self) -> int:
        """Number of components of a multivector, ``2**n``."""
        return 1 << self.n

    @property
    def metric(self) -> tuple[int, ...]:
        """The square of each basis vector, in index order: ``(0,)*r + (1,)*p + (-1,)*q``."""
        return (0,) * self.r + (1,) * self.p + (-1,) * self.q

    @cached_property
    def blades(self) -> list[tuple[int, ...]]:
        """Each blade as the tuple of its 0-based basis-vector indices, in canonical order."""
        return [tuple(i for i in range(self.n) if m >> i & 1) for m in self.tables.masks]

    @cached_property
    def blade_names(self) -> list[str]:
        """Names such as ``"1", "e0", "e12", "e0123"`` (indices from 0 when r == 1, else 1)."""
        start = 0 if self.r == 1 else 1
        sep = "_" if start + self.n > 10 else ""
        return [
            "e" + sep.join(str(start + i) for i in blade) if blade else "1" for blade in self.blades
        ]

    @property
    def grades(self) -> tuple[int, ...]:
        """The grade of each blade."""
        return self.tables.grades

    @property
    def blade_metric(self) -> tuple[int, ...]:
        """``<reverse(e_A) e_A>_0`` per blade: +1 or -1, and 0 for blades with a null vector."""
        return self.tables.blade_metric

    @cached_property
    def nondegenerate_blades(self) -> tuple[int, ...]:
        """Indices of the blades without a null basis vector: those the inner product sees.

        In PGA these are the 8 blades without ``e0``: ``1, e1, e2, e3, e12, e13, e23, e123``.
        For attention, ``inner_product(q, k) == (q[..., idx] * blade_metric[idx]) @ k[..., idx]``.
        """
        return tuple(i for i, m in enumerate(self.blade_metric) if m)

    @property
    def pseudoscalar_index(self) -> int:
        """Index of the pseudoscalar ``e_{0..n-1}`` (the last blade)."""
        return self.dim - 1

    @cached_property
    def nondegenerate_pseudoscalar_index(self) -> int:
        """Index of the product of all non-null basis vectors (``e123`` in PGA)."""
        mask = sum(1 << i for i, m in enumerate(self.metric) if m)
        return self.tables.index[mask]

    # ------------------------------------------------------------------------------- checks
    def check(self, x: Tensor, name: str = "x") -> Tensor:
        """Raise ``ValueError`` unless ``x`` is a floating tensor of shape ``(..., self.dim)``."""
        if not isinstance(x, Tensor):
            raise ValueError(
                f"{name} must be a torch.Tensor of shape (..., {self.dim}), got {type(x).__name__}"
            )
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(
                f"{name} must have shape (..., {self.dim}) for a multivector of {self}, "
                f"got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(
                f"{name} must be a floating tensor (float32 or float64), got {x.dtype}"
            )
        return x

    def _bilinear(self, table: Table, x: Tensor, y: Tensor) -> Tensor:
        self.check(x, "x")
        self.check(y, "y")
        if x.device != y.device:
            raise ValueError(f"x and y must be on one device, got {x.device} and {y.device}")
        return bilinear(x, y, table)

    def _signs(self, values: tuple, x: Tensor) -> Tensor:
        return kernels.constant(values, x.device, x.dtype)

    # ----------------------------------------------------------------------------- products
    def geometric_product(self, x: Tensor, y: Tensor) -> Tensor:
        """``x y``: ``(..., dim), (..., dim) -> (..., dim)`` over the table's non-zero entries."""
        return self._bilinear(self.tables.geometric, x, y)

    def outer_product(self, x: Tensor, y: Tensor) -> Tensor:
        """``x ^ y`` (wedge): ``(..., dim), (..., dim) -> (..., dim)``."""
        return self._bilinear(self.tables.outer, x, y)

    def join(self, x: Tensor, y: Tensor) -> Tensor:
        """The regressive product ``x v y``, dual of the wedge of the duals (right complements).

        Metric-free, so defined for every signature; equal to kingdon's ``x & y``. In PGA the join
        of two points is the line through them. It is equivariant under even versors and changes
        sign under odd ones; :meth:`equivariant_join` corrects that sign.
        """
        return self._bilinear(self.tables.regressive, x, y)

    def equivariant_join(self, x: Tensor, y: Tensor, reference: Tensor) -> Tensor:
        """``reference[..., I_E] * join(x, y)``: the join made Pin-equivariant, as in GATr.

        ``I_E`` is :attr:`nondegenerate_pseudoscalar_index` (``e123`` in PGA). That component of
        any multivector flips sign under odd versors exactly as the join does, so the product
        is equivariant when ``reference`` transforms like the data (GATr uses the mean of the
        input multivectors; a constant reference is not reflection-equivariant). Shapes:
        ``x, y, reference: (..., dim)`` broadcasting; returns ``(..., dim)``.
        """
        self.check(reference, "reference")
        index = self.nondegenerate_pseudoscalar_index
        return reference[..., index : index + 1] * self.join(x, y)

    def inner_product(self, x: Tensor, y: Tensor) -> Tensor:
        """The invariant bilinear form ``<reverse(x) y>_0``: ``(..., dim), (..., dim) -> (...)``.

        Equals ``sum_A blade_metric[A] x_A y_A``: blades with a null vector do not contribute.
        """
        self.check(x, "x")
        self.check(y, "y")
        products = x * y
        return products @ self._signs(self.blade_metric, products)

    def norm(self, x: Tensor) -> Tensor:
        """``sqrt(|<reverse(x) x>_0|)``: ``(..., dim) -> (...)``. Invariant; zero on null blades.

        Like any square root, its gradient is infinite where the norm is 0.
        """
        return self.inner_product(x, x).abs().sqrt()

    # ------------------------------------------------------------------------- linear maps
    def _grade_signs(self, rule) -> tuple[int, ...]:
        return tuple(rule(g) for g in self.grades)

    def reverse(self, x: Tensor) -> Tensor:
        """Reverse each blade: grade ``k`` is multiplied by ``(-1)**(k(k-1)/2)``."""
        self.check(x)
        return x * self._signs(self._grade_signs(lambda k: -1 if k * (k - 1) // 2 % 2 else 1), x)

    def grade_involution(self, x: Tensor) -> Tensor:
        """Negate the odd grades: grade ``k`` is multiplied by ``(-1)**k``."""
        self.check(x)
        return x * self._signs(self._grade_signs(lambda k: -1 if k % 2 else 1), x)

    def clifford_conjugate(self, x: Tensor) -> Tensor:
        """Reverse and grade involution: grade ``k`` is multiplied by ``(-1)**(k(k+1)/2)``."""
        self.check(x)
        return x * self._signs(self._grade_signs(lambda k: -1 if k * (k + 1) // 2 % 2 else 1), x)

    def grade_project(self, x: Tensor, k: int) -> Tensor:
        """Keep grade ``k`` and zero the others: ``(..., dim) -> (..., dim)``."""
        self.check(x)
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 0 <= k <= self.n:
            raise ValueError(f"grade must be an int in 0..{self.n} for {self}, got {k!r}")
        k = int(k)
        return x * self._signs(self._grade_signs(lambda g: int(g == k)), x)

    @cached_property
    def _dual_map(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """For each output blade: its source blade and sign."""
        t = self.tables
        full = t.pseudoscalar_mask
        source, sign = [0] * self.dim, [0] * self.dim
        if self.r == 0:  # polarity: x I^-1 with I^-1 = (I I) I
            square, _ = blade_product(full, full, self.metric)
            for a, mask in enumerate(t.masks):
                c, out = blade_product(mask, full, self.metric)
                source[t.index[out]], sign[t.index[out]] = a, c * square
        else:  # Hodge: the right complement, e_A ^ dual(e_A) = I
            for a, mask in enumerate(t.masks):
                source[t.index[full ^ mask]] = a
                sign[t.index[full ^ mask]] = reorder_sign(mask, full ^ mask)
        return tuple(source), tuple(sign)

    def _check_dual(self) -> None:
        if self.r > 1:
            raise ValueError(
                f"dual is defined for non-degenerate algebras (polarity, x I^-1) and for r == 1 "
                f"(Hodge dual, as PGA); {self} has r = {self.r} null basis vectors"
            )

    def dual(self, x: Tensor) -> Tensor:
        """The dual: ``x I^-1`` when ``r == 0``, the Hodge dual (right complement) when ``r == 1``.

        As kingdon's ``x.dual()``. Raises ``ValueError`` for ``r > 1``, where no dual is standard.
        """
        self._check_dual()
        self.check(x)
        source, sign = self._dual_map
        index = kernels.constant(source, x.device, torch.long)
        return x.index_select(-1, index) * self._signs(sign, x)

    def undual(self, x: Tensor) -> Tensor:
        """The inverse of :meth:`dual`."""
        self._check_dual()
        self.check(x)
        source, sign = self._dual_map
        target = [0] * self.dim
        for out, src in enumerate(source):
            target[src] = out
        index = kernels.constant(tuple(target), x.device, torch.long)
        signs = tuple(sign[t] for t in target)  # all signs are +-1, so each is its own inverse
        return x.index_select(-1, index) * self._signs(signs, x)

    # ------------------------------------------------------------------------------ versors
    def sandwich(self, versor: Tensor, x: Tensor) -> Tensor:
        """The twisted action of a Pin element: ``V x V^-1`` (even V), ``V x_hat V^-1`` (odd V).

        Computed as ``(V_even x + V_odd grade_involution(x)) reverse(V) / <V reverse(V)>_0``, which
        is exact for versors (products of invertible vectors); ``versor`` and ``x`` broadcast.
        """
        self.check(versor, "versor")
        self.check(x, "x")
        odd = self._signs(self._grade_signs(lambda k: k % 2), versor)
        twisted = self.geometric_product(versor, x) - 2 * self.geometric_product(
            versor * odd, x * odd
        )
        norm2 = self.inner_product(versor, versor).unsqueeze(-1)
        return self.geometric_product(twisted, self.reverse(versor)) / norm2

    # ------------------------------------------------------------------------ linear basis
    @cached_property
    def linear_basis(self) -> LinearBasis:
        """The exact basis of Pin-equivariant linear maps (see :mod:`noether.algebra.linear`)."""
        return linear_basis(self.tables)

    def equivariant_linear_basis(
        self,
        *,
        normalize: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """All Pin(p,q,r)-equivariant linear maps on multivectors: ``(n_basis, dim, dim)``.

        ``basis[a] @ x`` is map ``a`` (rows: output blade, columns: input blade). Computed
        exactly for the signature (see :mod:`noether.algebra.linear`): the grade projections
        first, then the maps between grades (PGA: ``x -> e0 <x>_k`` for k = 0..3), 9 in all
        for PGA. Entries are 0 and +-1; ``normalize=True`` scales each map to unit Frobenius
        norm, as GATr does.
        """
        return self.linear_basis.dense(normalize=normalize, device=device, dtype=dtype)

    def equivariant_linear(self, x: Tensor, weight: Tensor) -> Tensor:
        """``(..., in, dim), (out, in, n_basis) -> (..., out, dim)``; see :func:`equivariant_linear`."""
        return equivariant_linear(self, x, weight)


# ------------------------------------------------------------------------- layout wrappers
STACK_MIN = 4096
"""Products from which :func:`bilinear` transposes to component-major by stacking the columns
(``torch.stack(x.unbind(1))``, about twice as fast as ``x.t().contiguous()`` for many products);
below, ``t().contiguous()``: CGA at 1000 products, a third of the forward time went to the stack
(as before the kernels were unified, whose threshold this is)."""


def bilinear(x: Tensor, y: Tensor, table: Table) -> Tensor:
    """``out[..., k] = sum over entries (i, j, k, c) of c * x[..., i] * y[..., j]``.

    The public layout over :func:`noether.algebra.kernels.sparse_bilinear`: the operands are
    transposed to component-major ``(dim, n)`` and the result back.

    Args:
        x: ``(..., dx)``; y: ``(..., dy)``; leading dimensions broadcast. Same floating dtype and
            device (mixed float dtypes are promoted).
        table: the sparse table of the product.

    Returns:
        ``(..., dout)`` with the broadcast leading shape.
    """
    dx, dy, dout = table.dims
    dtype = torch.promote_types(x.dtype, y.dtype)
    batch = kernels.broadcast_shape(x.shape[:-1], y.shape[:-1])
    x2 = (x if x.dtype == dtype else x.to(dtype)).expand(*batch, dx).reshape(-1, dx)
    y2 = (y if y.dtype == dtype else y.to(dtype)).expand(*batch, dy).reshape(-1, dy)
    if x2.shape[0] == 0:
        return x2.new_zeros(*batch, dout)
    if x2.shape[0] >= STACK_MIN:  # stacking the columns transposes twice as fast
        xt, yt = torch.stack(x2.unbind(1)), torch.stack(y2.unbind(1))
    else:  # for few products, the 2 + 2 dim unbind views and autograd nodes cost more
        xt, yt = x2.t().contiguous(), y2.t().contiguous()
    out = kernels.sparse_bilinear(xt, yt, table)
    return out.t().contiguous().view(*batch, dout)


def equivariant_linear(algebra: Algebra, x: Tensor, weight: Tensor) -> Tensor:
    """The learnable equivariant linear map ``y[o] = sum_i sum_a weight[o, i, a] basis[a] x[i]``.

    Args:
        algebra: the algebra (its basis has ``n_basis`` maps; 9 for PGA).
        x: ``(..., in_channels, dim)``.
        weight: ``(out_channels, in_channels, n_basis)``, same dtype and device as ``x``.

    Returns:
        ``(..., out_channels, dim)``. Equal to the dense
        ``einsum("oia,akj,...ij->...ok", weight, basis, x)`` (:func:`noether.algebra.reference.
        dense_linear`) but over the basis' non-zero entries: the public layout over
        :func:`noether.algebra.kernels.equivariant_linear`.
    """
    algebra.check(x, "x")
    basis = algebra.linear_basis
    if not isinstance(weight, Tensor) or weight.ndim != 3 or weight.shape[2] != basis.n_basis:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(
            f"weight must have shape (out_channels, in_channels, {basis.n_basis}) for {algebra}, "
            f"got {shape}"
        )
    if x.ndim < 2 or x.shape[-2] != weight.shape[1]:
        raise ValueError(
            f"x must have shape (..., {weight.shape[1]}, {algebra.dim}) to match weight's "
            f"in_channels, got {tuple(x.shape)}"
        )
    if x.dtype != weight.dtype or x.device != weight.device:
        raise ValueError(
            f"x and weight must share dtype and device, got {x.dtype}/{x.device} and "
            f"{weight.dtype}/{weight.device}"
        )
    batch, (c_in, dim), c_out = x.shape[:-2], x.shape[-2:], weight.shape[0]
    xt = x.reshape(-1, c_in, dim).permute(2, 0, 1).contiguous()  # (dim, N, in)
    y = kernels.equivariant_linear(basis.plan(), xt, weight)  # (dim, N, out)
    return y.permute(1, 2, 0).reshape(*batch, c_out, dim)


EGA = Algebra(3, 0, 0)
"""Euclidean G(3,0,0): 8 components, symmetry O(3)."""
PGA = Algebra(3, 0, 1)
"""Projective G(3,0,1): 16 components, symmetry E(3); the algebra of GATr (and of iPGA)."""
CGA = Algebra(4, 1, 0)
"""Conformal G(4,1,0): 32 components; ``e4**2 = 1``, ``e5**2 = -1``."""
