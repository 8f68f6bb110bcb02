"""Geometric objects in projective geometric algebra PGA = G(3,0,1), with GATr's conventions.

Components (the ``clifford`` order): ``1, e0, e1, e2, e3, e01, e02, e03, e12, e13, e23, e012,
e013, e023, e123, e0123``; ``e0**2 = 0``. Plane-based PGA (Roelfs & De Keninck; Dorst):

============== ======================================= ============================================
object         embedding                               transforms by
============== ======================================= ============================================
point x        trivector ``e123 = 1, e023 = -x,``      ``sandwich(V, P)``: ``P(R x + t)``
               ``e013 = y, e012 = -z``
direction v    the same with ``e123 = 0`` (ideal       rotations and reflections, not translations
               point)
plane n.x = d  vector ``n1 e1 + n2 e2 + n3 e3 - d e0``  ``(R n, d + (R n).t)``
translation t  ``1 - (t1 e01 + t2 e02 + t3 e03) / 2``  conjugation: ``T(R t)``
rotation q     ``w - x e23 + y e13 - z e12``           conjugation: ``R R2 R^T``
reflection     the plane with a unit normal             conjugation
scalar s       ``1`` component                          invariant
pseudoscalar   ``e0123`` component                      negated by odd versors
============== ======================================= ============================================

A rigid motion ``x -> R x + t`` is the versor ``geometric_product(embed_translation(t),
embed_rotation_matrix(R))``; a reflection in a plane is the plane itself (an odd versor). All
embeddings take ``(..., 3)`` (points, directions, normals, translations), ``(..., 4)`` (unit
quaternions ``(x, y, z, w)``), ``(..., 3, 3)`` (rotation matrices) or ``(..., 1)`` (scalars) and
return ``(..., 16)``. iPGA uses this same algebra; it differs only in its attention and bilinears.
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.algebra.algebra import PGA
from noether.algebra.embedding import (
    check_values,
    component,
    compose,
    shared_objects,
    translator_of,
    unit_normal,
    unit_plane,
)
from noether.algebra.kernels import broadcast_shape

ALGEBRA = PGA


def _trivector(v: Tensor, weight: Tensor | float) -> Tensor:
    x, y, z = v.unbind(-1)
    return compose(PGA, v.shape[:-1], v, e123=weight, e023=-x, e013=y, e012=-z)


def embed_point(position: Tensor) -> Tensor:
    """Points ``(..., 3)`` -> trivectors ``(..., 16)``: ``e123 = 1, e023 = -x, e013 = y, e012 = -z``."""
    check_values(position, (3,), "position")
    return _trivector(position, 1.0)


def extract_point(mv: Tensor, threshold: float = 1e-3) -> Tensor:
    """Trivectors ``(..., 16)`` -> points ``(..., 3)``, divided by ``e123`` (homogeneous weight).

    The weight's magnitude is clamped to ``threshold`` (keeping its sign), as in GATr, so
    ideal points (directions) give large but finite positions.
    """
    PGA.check(mv, "mv")
    weight = component(PGA, mv, "e123")
    sign = torch.where(weight < 0, -1.0, 1.0).to(weight)
    weight = sign * weight.abs().clamp_min(threshold)
    return extract_direction(mv) / weight.unsqueeze(-1)


def embed_direction(direction: Tensor) -> Tensor:
    """Directions ``(..., 3)`` -> ideal points ``(..., 16)`` (``e123 = 0``): translation-invariant."""
    check_values(direction, (3,), "direction")
    return _trivector(direction, 0.0)


def extract_direction(mv: Tensor) -> Tensor:
    """``(..., 16)`` -> ``(-e023, e013, -e012)``: ``(..., 3)`` (no division by ``e123``)."""
    PGA.check(mv, "mv")
    c = lambda name: component(PGA, mv, name)  # noqa: E731
    return torch.stack([-c("e023"), c("e013"), -c("e012")], -1)


def embed_plane(normal: Tensor, distance: Tensor) -> Tensor:
    """The plane ``{x: normal . x = distance}``: normals ``(..., 3)``, distances ``(...)``.

    Returns the vector ``n1 e1 + n2 e2 + n3 e3 - d e0``: ``(..., 16)``. Its orientation is the
    normal's; the normal need not be a unit vector.
    """
    check_values(normal, (3,), "normal")
    distance = torch.as_tensor(distance, dtype=normal.dtype, device=normal.device)
    n1, n2, n3 = normal.unbind(-1)
    batch = broadcast_shape(normal.shape[:-1], distance.shape)
    n1, n2, n3, d = (v.expand(batch) for v in (n1, n2, n3, distance))
    return compose(PGA, batch, normal, e1=n1, e2=n2, e3=n3, e0=-d)


def plane_through(normal: Tensor, position: Tensor) -> Tensor:
    """The plane with this normal through this point: ``(..., 3), (..., 3) -> (..., 16)``."""
    check_values(position, (3,), "position")
    return embed_plane(normal, (normal * position).sum(-1))


def extract_plane(mv: Tensor) -> tuple[Tensor, Tensor]:
    """Vectors ``(..., 16)`` -> ``(normal (..., 3), distance (...))`` with ``normal . x = distance``."""
    PGA.check(mv, "mv")
    return mv[..., 2:5], -component(PGA, mv, "e0")


def embed_reflection(normal: Tensor, distance: Tensor) -> Tensor:
    """The reflection in the plane ``normal . x = distance``: the plane with a unit normal.

    Use it as the versor of :meth:`~noether.algebra.Algebra.sandwich`: ``(..., 16)``.
    """
    return unit_plane(embed_plane, normal, distance)


def extract_reflection(mv: Tensor) -> tuple[Tensor, Tensor]:
    """The plane of a reflection: ``(unit normal (..., 3), distance (...))``."""
    return unit_normal(*extract_plane(mv))


def embed_translation(translation: Tensor) -> Tensor:
    """Translations ``(..., 3)`` -> versors ``1 - (t1 e01 + t2 e02 + t3 e03) / 2``: ``(..., 16)``."""
    check_values(translation, (3,), "translation")
    t1, t2, t3 = (-0.5 * translation).unbind(-1)
    return compose(PGA, translation.shape[:-1], translation, one=1.0, e01=t1, e02=t2, e03=t3)


def extract_translation(mv: Tensor) -> Tensor:
    """The translation of a motor ``T R`` (or a pure translation): ``(..., 16) -> (..., 3)``.

    ``R`` is the part of the motor without ``e0``; ``T = M reverse(R) / |R|^2``.
    """
    return -2 * translator_of(PGA, mv, tuple(map(bool, PGA.blade_metric)))[..., 5:8]


(
    embed_rotation,
    extract_rotation,
    embed_rotation_matrix,
    extract_rotation_matrix,
    embed_scalar,
    extract_scalar,
    embed_pseudoscalar,
    extract_pseudoscalar,
) = shared_objects(PGA, __name__)
