"""Clifford algebras G(p, q, r) on torch tensors: products, involutions, versors, linear maps.

Pure functions and cached tables; no ``nn.Module``. Start with an :class:`Algebra` value or a
preset (:data:`EGA`, :data:`PGA`, :data:`CGA`); geometric objects live in
:mod:`noether.algebra.ega`, :mod:`noether.algebra.pga` and :mod:`noether.algebra.cga`.
"""

from noether.algebra.algebra import CGA, EGA, PGA, Algebra, equivariant_linear
from noether.algebra.versors import pin_sample, random_vector, random_versor

from noether.algebra import cga, ega, pga  # isort: skip  (objects; they import the above)

__all__ = [
    "CGA",
    "EGA",
    "PGA",
    "Algebra",
    "cga",
    "ega",
    "equivariant_linear",
    "pga",
    "pin_sample",
    "random_vector",
    "random_versor",
]
