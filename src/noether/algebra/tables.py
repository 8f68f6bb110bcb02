"""Exact multiplication tables of a Clifford algebra, built from bitmasks with Python integers.

A basis blade is a bitmask over the basis vectors (bit ``i`` set when ``e_i`` is a factor); blades
are listed in canonical order (by grade, then lexicographically by their sorted indices), which
is the order of the ``clifford`` library and of GATr. A bilinear product is a :class:`Table`: the
list of its non-zero entries ``(i, j, k, c)``, meaning ``out[k] += c * x[i] * y[j]``, with
integer ``c`` in {-1, +1}. Nothing here touches torch; :mod:`noether.algebra.kernels` evaluates
the tables, and :mod:`noether.gatr.flops` counts their entries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache, cached_property

Entry = tuple[int, int, int, int]


def blade_masks(n: int) -> tuple[int, ...]:
    """The bitmasks of all ``2**n`` blades in canonical order."""
    return tuple(
        sum(1 << i for i in combo)
        for grade in range(n + 1)
        for combo in itertools.combinations(range(n), grade)
    )


def reorder_sign(a: int, b: int) -> int:
    """Sign of sorting the product of the blades ``a`` and ``b`` into canonical order."""
    a >>= 1
    swaps = 0
    while a:
        swaps += (a & b).bit_count()
        a >>= 1
    return -1 if swaps & 1 else 1


def blade_product(a: int, b: int, metric: tuple[int, ...]) -> tuple[int, int]:
    """``e_a e_b = c e_(a^b)``: returns ``(c, a ^ b)`` with ``c`` in {-1, 0, 1}."""
    c = reorder_sign(a, b)
    common = a & b
    i = 0
    while common:
        if common & 1:
            c *= metric[i]
        common >>= 1
        i += 1
    return c, a ^ b


@dataclass(frozen=True, eq=False)
class Table:
    """The non-zero entries ``(i, j, k, c)`` of a bilinear map ``out[k] = sum c x[i] y[j]``.

    ``dims`` is ``(len(x), len(y), len(out))``. Entries are sorted by output, then by inputs.
    Tables compare by identity: each is built once per algebra, so it is its own cache key.
    """

    name: str
    dims: tuple[int, int, int]
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        if any(c not in (-1, 1) for *_, c in self.entries):
            raise ValueError(f"table {self.name}: coefficients must be +1 or -1")
        _BY_NAME[self.name] = self  # so that the custom operator finds it by its name

    @property
    def nnz(self) -> int:
        """Number of non-zero entries: the multiply-adds of one product (PGA geometric: 192)."""
        return len(self.entries)

    def permuted(self, position: tuple[int, ...], tag: str) -> Table:
        """The same map on reordered components (canonical blade ``i`` at ``position[i]``),
        named ``f"{self.name}.{tag}"``."""
        p = position
        return _table(
            f"{self.name}.{tag}", self.dims, ((p[i], p[j], p[k], c) for i, j, k, c in self.entries)
        )

    @cached_property
    def by_output(self) -> tuple[tuple[tuple[int, int, int], ...], ...]:
        """For each output component, its terms ``(i, j, c)``."""
        rows: list[list[tuple[int, int, int]]] = [[] for _ in range(self.dims[2])]
        for i, j, k, c in self.entries:
            rows[k].append((i, j, c))
        return tuple(tuple(r) for r in rows)

    @cached_property
    def width(self) -> int:
        """The most terms of any output component (PGA geometric: 16)."""
        return max((len(terms) for terms in self.by_output), default=0) or 1

    @cached_property
    def grad_x(self) -> Table:
        """Table of ``grad_x = B(grad_out, y)``: entries ``(k, j, i, c)``."""
        dx, dy, dout = self.dims
        return _table(
            f"{self.name}.grad_x", (dout, dy, dx), ((k, j, i, c) for i, j, k, c in self.entries)
        )

    @cached_property
    def grad_y(self) -> Table:
        """Table of ``grad_y = B(x, grad_out)``: entries ``(i, k, j, c)``."""
        dx, dy, dout = self.dims
        return _table(
            f"{self.name}.grad_y", (dx, dout, dy), ((i, k, j, c) for i, j, k, c in self.entries)
        )


def _table(name: str, dims: tuple[int, int, int], entries) -> Table:
    return Table(name, dims, tuple(sorted(entries, key=lambda e: (e[2], e[0], e[1]))))


@dataclass(frozen=True)
class CliffordTables:
    """All integer tables of G(p, q, r) with the metric ``metric`` (one square per basis vector)."""

    metric: tuple[int, ...]

    @cached_property
    def n(self) -> int:
        return len(self.metric)

    @cached_property
    def masks(self) -> tuple[int, ...]:
        return blade_masks(self.n)

    @cached_property
    def index(self) -> dict[int, int]:
        return {m: i for i, m in enumerate(self.masks)}

    @cached_property
    def grades(self) -> tuple[int, ...]:
        return tuple(m.bit_count() for m in self.masks)

    @cached_property
    def dim(self) -> int:
        return len(self.masks)

    @cached_property
    def _tag(self) -> str:
        return "G" + "".join(_SYMBOLS[m] for m in self.metric)

    def _product(self, name: str, keep) -> Table:
        entries = []
        for i, a in enumerate(self.masks):
            for j, b in enumerate(self.masks):
                if not keep(a, b):
                    continue
                c, m = blade_product(a, b, self.metric)
                if c:
                    entries.append((i, j, self.index[m], c))
        return _table(f"{self._tag}.{name}", (self.dim,) * 3, entries)

    @cached_property
    def geometric(self) -> Table:
        return self._product("geometric", lambda a, b: True)

    @cached_property
    def outer(self) -> Table:
        return self._product("outer", lambda a, b: not a & b)

    @cached_property
    def pseudoscalar_mask(self) -> int:
        return (1 << self.n) - 1

    @cached_property
    def regressive(self) -> Table:
        """The regressive product (join) ``x v y = undual(dual(x) ^ dual(y))`` with complements.

        Metric-free, so it is defined for every signature (it matches kingdon's ``x & y``).
        """
        full = self.pseudoscalar_mask
        entries = []
        for i, a in enumerate(self.masks):
            for j, b in enumerate(self.masks):
                ca, cb = full ^ a, full ^ b
                if ca & cb:
                    continue
                sign = (
                    reorder_sign(a, ca)
                    * reorder_sign(b, cb)
                    * reorder_sign(ca, cb)
                    * reorder_sign(full ^ (ca | cb), ca | cb)
                )
                entries.append((i, j, self.index[full ^ (ca | cb)], sign))
        return _table(f"{self._tag}.regressive", (self.dim,) * 3, entries)

    @cached_property
    def blade_metric(self) -> tuple[int, ...]:
        """``<reverse(e_A) e_A>_0`` for each blade: the weights of the invariant inner product."""
        out = []
        for a in self.masks:
            c = 1
            for i in range(self.n):
                if a >> i & 1:
                    c *= self.metric[i]
            out.append(c)
        return tuple(out)


_SYMBOLS = {1: "+", -1: "-", 0: "0"}


@cache
def clifford_tables(metric: tuple[int, ...]) -> CliffordTables:
    """The tables of the algebra with this metric, built once per process."""
    return CliffordTables(metric)


_BY_NAME: dict[str, Table] = {}
"""Every table built in this process, by name (names are unique: they carry the metric)."""


def resolve(name: str) -> Table:
    """The table called ``name`` (``"G0+++.geometric"``, ``"G0+++.geometric.grad_x"``, ...).

    Names carry the metric, so a product's table can be found (and built, once) from its name
    alone: this is how the torch custom operator in :mod:`noether.algebra.kernels` refers to its
    table. Derived tables (:meth:`Table.permuted`) are found once built.
    """
    if name in _BY_NAME:
        return _BY_NAME[name]
    base, _, adjoint = name.rpartition(".")
    if adjoint in ("grad_x", "grad_y"):
        return getattr(resolve(base), adjoint)
    tag, product = name.split(".")
    metric = tuple({v: k for k, v in _SYMBOLS.items()}[c] for c in tag[1:])
    return getattr(clifford_tables(metric), product)


def output_dim(name: str) -> int:
    """The output dimension of the table called ``name`` (every table here is ``2**n`` wide)."""
    return 1 << (len(name.split(".")[0]) - 1)
