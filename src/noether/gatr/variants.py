"""The GATr variants: which algebra, and which extra primitives the algebra needs.

de Haan, Cohen and Brehmer (arXiv 2311.04744) build one transformer blueprint over any geometric
algebra. A variant fixes the algebra and two switches:

- ``join``: the bilinear layer adds the equivariant join (regressive product) to the geometric
  product. Needed in degenerate algebras (PGA), whose geometric product alone cannot build
  the objects spanned by points (lines through two points, planes through three).
- ``distance``: the attention adds nonlinear features of the points (the homogeneous trivectors
  in PGA) whose dot product is minus the squared Euclidean distance. The PGA inner product
  ignores every component with ``e0``, where positions live, so without them attention cannot
  see distances ("improved PGA", iPGA).

============  ==============  ======  ========  =============================================
name          algebra         join    distance  symmetry group of the network
============  ==============  ======  ========  =============================================
``"ega"``     G(3,0,0), 8     no      no        O(3) (translations: centre the inputs)
``"pga"``     G(3,0,1), 16    yes     no        E(3) through Pin(3,0,1)
``"ipga"``    G(3,0,1), 16    yes     yes       E(3) through Pin(3,0,1)
``"cga"``     G(4,1,0), 32    no      no        Pin(4,1), which contains E(3)
============  ==============  ======  ========  =============================================

In CGA a Euclidean point is a null vector, and the inner product of two normalised points is
``-|x - y|^2 / 2``, so plain inner-product attention is already distance-aware.
"""

from __future__ import annotations

from dataclasses import dataclass

from noether.algebra import CGA, EGA, PGA, Algebra

__all__ = ["VARIANTS", "Variant", "resolve_variant"]


@dataclass(frozen=True)
class Variant:
    """An algebra and the primitives a GATr over it uses (see the module docstring)."""

    name: str
    algebra: Algebra
    join: bool
    distance: bool

    def __post_init__(self) -> None:
        if self.distance and not (self.algebra.r == 1 and self.algebra.q == 0):
            raise ValueError(
                f"distance-aware attention needs a projective algebra G(p,0,1), got {self.algebra}"
            )
        if self.join and self.algebra.r > 1:
            raise ValueError(f"the equivariant join needs r <= 1, got {self.algebra}")


VARIANTS: dict[str, Variant] = {
    "ega": Variant("ega", EGA, join=False, distance=False),
    "pga": Variant("pga", PGA, join=True, distance=False),
    "ipga": Variant("ipga", PGA, join=True, distance=True),
    "cga": Variant("cga", CGA, join=False, distance=False),
}


def resolve_variant(algebra: str | Algebra | Variant) -> Variant:
    """A :class:`Variant` from a name (``"ega"``, ``"pga"``, ``"ipga"``, ``"cga"``), an
    :class:`~noether.algebra.Algebra` (join when it is degenerate, no distance features) or a
    :class:`Variant` (returned as is)."""
    if isinstance(algebra, Variant):
        return algebra
    if isinstance(algebra, Algebra):
        for variant in VARIANTS.values():
            if variant.algebra == algebra and not variant.distance:
                return variant
        return Variant(str(algebra), algebra, join=algebra.r == 1, distance=False)
    if isinstance(algebra, str) and algebra.lower() in VARIANTS:
        return VARIANTS[algebra.lower()]
    raise ValueError(
        f"unknown GATr variant {algebra!r}; accepted: {', '.join(map(repr, VARIANTS))}, an "
        f"Algebra or a Variant"
    )
