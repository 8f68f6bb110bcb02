"""Geometric objects in conformal geometric algebra CGA = G(4,1,0).

Basis vectors ``e1, e2, e3`` (Euclidean), ``e4`` (``e4**2 = +1``) and ``e5`` (``e5**2 = -1``); the
null vectors are ``e_inf = e4 + e5`` (infinity) and ``e_o = (e5 - e4) / 2`` (origin), with
``e_o . e_inf = -1``. 32 components in the ``clifford`` order (grade, then lexicographic).

============== ========================================== =========================================
object         embedding                                  transforms by
============== ========================================== =========================================
point x        vector ``x + |x|^2/2 e_inf + e_o``         ``sandwich(V, X)``: ``X(R x + t)``
direction v    bivector ``v ^ e_inf`` (free vector)       rotations and reflections
plane n.x = d  vector ``n + d e_inf``                     ``(R n, d + (R n).t)``
translation t  ``1 - t e_inf / 2``                        conjugation: ``T(R t)``
rotation q     ``w - x e23 + y e13 - z e12``              conjugation: ``R R2 R^T``
reflection     the plane with a unit normal               conjugation
scalar s       ``1`` component                            invariant
pseudoscalar   ``e12345`` component                       negated by odd versors
============== ========================================== =========================================

Points are vectors, so even reflections move them exactly: ``sandwich(plane, X(x)) = X(x')``.
The inner product of two points is ``-|x - y|^2 / 2``: CGA attention is distance-aware as is.
Embeddings take ``(..., 3)``, ``(..., 4)`` quaternions ``(x, y, z, w)``, ``(..., 3, 3)`` matrices
or ``(..., 1)`` scalars and return ``(..., 32)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.algebra.algebra import CGA
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

ALGEBRA = CGA

_EUCLIDEAN = (1, 2, 3)  # indices of e1, e2, e3


def embed_point(position: Tensor) -> Tensor:
    """Points ``(..., 3)`` -> null vectors ``x + |x|^2/2 e_inf + e_o``: ``(..., 32)``."""
    check_values(position, (3,), "position")
    half_square = 0.5 * (position * position).sum(-1)
    x, y, z = position.unbind(-1)
    # e_inf = e4 + e5 and e_o = (e5 - e4) / 2
    return compose(
        CGA,
        position.shape[:-1],
        position,
        e1=x,
        e2=y,
        e3=z,
        e4=half_square - 0.5,
        e5=half_square + 0.5,
    )


def extract_point(mv: Tensor, threshold: float = 1e-3) -> Tensor:
    """Vectors ``(..., 32)`` -> points ``(..., 3)``: the Euclidean part over ``-X . e_inf``.

    The weight's magnitude is clamped to ``threshold`` (keeping its sign).
    """
    CGA.check(mv, "mv")
    weight = component(CGA, mv, "e5") - component(CGA, mv, "e4")
    sign = torch.where(weight < 0, -1.0, 1.0).to(weight)
    weight = sign * weight.abs().clamp_min(threshold)
    return mv[..., 1:4] / weight.unsqueeze(-1)


def embed_direction(direction: Tensor) -> Tensor:
    """Directions ``(..., 3)`` -> free vectors ``v ^ e_inf`` (``e_i4 = e_i5 = v_i``): ``(..., 32)``."""
    check_values(direction, (3,), "direction")
    x, y, z = direction.unbind(-1)
    return compose(CGA, direction.shape[:-1], direction, e14=x, e15=x, e24=y, e25=y, e34=z, e35=z)


def extract_direction(mv: Tensor) -> Tensor:
    """``(..., 32)`` -> the ``e14, e24, e34`` components, ``(..., 3)``."""
    CGA.check(mv, "mv")
    return torch.stack([component(CGA, mv, f"e{i}4") for i in _EUCLIDEAN], -1)


def embed_plane(normal: Tensor, distance: Tensor) -> Tensor:
    """The plane ``{x: normal . x = distance}`` as the vector ``n + d e_inf``: ``(..., 32)``."""
    check_values(normal, (3,), "normal")
    distance = torch.as_tensor(distance, dtype=normal.dtype, device=normal.device)
    batch = broadcast_shape(normal.shape[:-1], distance.shape)
    n1, n2, n3, d = (v.expand(batch) for v in (*normal.unbind(-1), distance))
    return compose(CGA, batch, normal, e1=n1, e2=n2, e3=n3, e4=d, e5=d)


def plane_through(normal: Tensor, position: Tensor) -> Tensor:
    """The plane with this normal through this point: ``(..., 3), (..., 3) -> (..., 32)``."""
    check_values(position, (3,), "position")
    return embed_plane(normal, (normal * position).sum(-1))


def extract_plane(mv: Tensor) -> tuple[Tensor, Tensor]:
    """Vectors ``(..., 32)`` -> ``(normal (..., 3), distance (...))``; ``d = -plane . e_o``."""
    CGA.check(mv, "mv")
    return mv[..., 1:4], 0.5 * (component(CGA, mv, "e4") + component(CGA, mv, "e5"))


def embed_reflection(normal: Tensor, distance: Tensor) -> Tensor:
    """The reflection in the plane ``normal . x = distance``: the plane with a unit normal.

    Use it as the versor of :meth:`~noether.algebra.Algebra.sandwich`: ``(..., 32)``.
    """
    return unit_plane(embed_plane, normal, distance)


def extract_reflection(mv: Tensor) -> tuple[Tensor, Tensor]:
    """The plane of a reflection: ``(unit normal (..., 3), distance (...))``."""
    return unit_normal(*extract_plane(mv))


def embed_translation(translation: Tensor) -> Tensor:
    """Translations ``(..., 3)`` -> versors ``1 - t e_inf / 2``: ``(..., 32)``."""
    check_values(translation, (3,), "translation")
    x, y, z = (-0.5 * translation).unbind(-1)
    return compose(
        CGA, translation.shape[:-1], translation, one=1.0, e14=x, e15=x, e24=y, e25=y, e34=z, e35=z
    )


def extract_translation(mv: Tensor) -> Tensor:
    """The translation of a motor ``T R`` (or a pure translation): ``(..., 32) -> (..., 3)``.

    ``R`` is the part of the motor without ``e4, e5``; ``T = M reverse(R) / |R|^2``.
    """
    rotational = tuple(not {3, 4} & set(blade) for blade in CGA.blades)
    return -2 * extract_direction(translator_of(CGA, mv, rotational))


(
    embed_rotation,
    extract_rotation,
    embed_rotation_matrix,
    extract_rotation_matrix,
    embed_scalar,
    extract_scalar,
    embed_pseudoscalar,
    extract_pseudoscalar,
) = shared_objects(CGA, __name__)
