"""Geometric objects in Euclidean geometric algebra EGA = G(3,0,0).

Components: ``1, e1, e2, e3, e12, e13, e23, e123``. The symmetry is O(3) about the origin: EGA has
no translations, so positions are vectors from an origin you choose (E-GATr uses positions
relative to a reference point, such as the centre of mass, to stay translation-invariant).

============== ========================================== =========================================
object         embedding                                  transforms by
============== ========================================== =========================================
point x        vector ``x1 e1 + x2 e2 + x3 e3``           ``sandwich(V, X)``: ``X(R x)``
direction v    the same vector                            the same
plane n.x = 0  its normal vector (planes through 0)       ``R n``
rotation q     ``w - x e23 + y e13 - z e12``              conjugation: ``R R2 R^T``
reflection     the unit normal of the mirror plane        conjugation
scalar s       ``1`` component                            invariant
pseudoscalar   ``e123`` component                         negated by odd versors
============== ========================================== =========================================

Embeddings take ``(..., 3)``, ``(..., 4)`` quaternions ``(x, y, z, w)``, ``(..., 3, 3)`` matrices
or ``(..., 1)`` scalars and return ``(..., 8)``.
"""

from __future__ import annotations

from torch import Tensor

from noether.algebra.algebra import EGA
from noether.algebra.embedding import (
    check_values,
    shared_objects,
    unit_normal,
)

ALGEBRA = EGA


def embed_point(position: Tensor) -> Tensor:
    """Positions ``(..., 3)`` (from the origin) -> vectors ``(..., 8)``."""
    check_values(position, (3,), "position")
    out = position.new_zeros(*position.shape[:-1], 8)
    out[..., 1:4] = position
    return out


def extract_point(mv: Tensor) -> Tensor:
    """``(..., 8)`` -> the vector part ``(..., 3)``."""
    EGA.check(mv, "mv")
    return mv[..., 1:4]


def embed_direction(direction: Tensor) -> Tensor:
    """Directions ``(..., 3)`` -> vectors ``(..., 8)`` (in EGA, the same as a position)."""
    return embed_point(direction)


def extract_direction(mv: Tensor) -> Tensor:
    """``(..., 8)`` -> the vector part ``(..., 3)``."""
    return extract_point(mv)


def embed_plane(normal: Tensor) -> Tensor:
    """The plane through the origin with this normal, as the vector ``n``: ``(..., 8)``."""
    return embed_point(normal)


def extract_plane(mv: Tensor) -> Tensor:
    """The normal ``(..., 3)`` of a plane through the origin."""
    return extract_point(mv)


def embed_reflection(normal: Tensor) -> Tensor:
    """The reflection in the plane through the origin with this normal: the unit normal."""
    check_values(normal, (3,), "normal")
    return embed_point(unit_normal(normal, normal.new_zeros(()))[0])


def extract_reflection(mv: Tensor) -> Tensor:
    """The unit normal ``(..., 3)`` of a reflection's mirror plane."""
    normal = extract_point(mv)
    return unit_normal(normal, normal.new_zeros(()))[0]


(
    embed_rotation,
    extract_rotation,
    embed_rotation_matrix,
    extract_rotation_matrix,
    embed_scalar,
    extract_scalar,
    embed_pseudoscalar,
    extract_pseudoscalar,
) = shared_objects(EGA, __name__)
