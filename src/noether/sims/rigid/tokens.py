"""How a rigid-body scene becomes tokens: PGA multivectors for GATr, raw numbers for the Transformer.

One token per body. A scene (normalised by :class:`~noether.sims.rigid.task.RigidTask`,
lengths in units of ``length_scale``, times in frames) is a dict of tensors:

==================  =============  ===========================================================
``points``          (B, T, P, 3)   surface points of each body now (a "position")
``com``             (B, T, 3)      centre of mass (a "position")
``velocity``        (B, T, 3)      centre-of-mass displacement per frame (a "vector")
``angular_velocity`` (B, T, 3)     rotation per frame in radians (a "pseudovector")
``gravity``         (B, 3)         displacement per frame squared (a "vector")
``plane_normal``    (B, 3)         unit normal of the ground plane (a "vector")
``plane_point``     (B, 3)         a point of the ground plane (a "position")
``scalars``         (B, T, S)      invariants: log mass and log principal moments, standardised
``mask``            (B, T)         True for real bodies
==================  =============  ===========================================================

**GATr (PGA, G(3,0,1)).** Multivector channels of a body token, in GATr's conventions
(points are trivectors ``e123 - x e023 + y e013 - z e012``):

- ``0 .. P-1``: the surface points;
- ``P``: the centre of mass, a point;
- ``P+1``: the velocity, an ideal point (a direction: ``e123 = 0``);
- ``P+2``: the angular velocity as the line through the centre of mass along ``omega``
  (a bivector: ``omega`` in ``e23, -e13, e12`` and ``com x omega`` in ``e01, e02, e03``);
- ``P+3``: gravity, an ideal point;
- ``P+4``: the ground plane ``n . x = d`` as the vector ``n1 e1 + n2 e2 + n3 e3 - d e0``.

Points, directions and planes are embedded by :mod:`noether.algebra.pga`. Gravity and the
plane enter as multivectors like every other object, so the network stays E(3)-equivariant and
only the data breaks the symmetry. The prediction is read from the first ``P`` output channels,
each moving its input point (:func:`moved_points`; an untrained model with a zero output layer
predicts "nothing moves").

Equivariance, exactly: embedding a moved scene equals the twisted sandwich of the embedded scene
for every proper motion (rotations and translations). Under a reflection the sandwich gives each
point and direction with weight ``-1`` while the embedding of the reflected scene has ``+1`` (the
plane and the line have the right sign); a GATr, whose ``e0`` maps do not commute with that sign,
is therefore SE(3)-equivariant from raw coordinates and Pin(3,0,1)-equivariant (reflections
included) on its multivector inputs. Both are tested.

**Transformer.** The same information as raw numbers per token (:func:`raw_tokens`): points,
centre of mass, velocity, angular velocity, gravity, plane normal and plane point, invariants.
The output is a displacement per point, added to the input points.
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.algebra import PGA
from noether.algebra.pga import embed_direction, embed_point, extract_direction, plane_through

__all__ = [
    "MV_EXTRA",
    "SCENE_KEYS",
    "apply_euclidean",
    "embed_line",
    "moved_points",
    "pga_tokens",
    "raw_tokens",
]

SCENE_KEYS = (
    "points",
    "com",
    "velocity",
    "angular_velocity",
    "gravity",
    "plane_normal",
    "plane_point",
    "scalars",
    "mask",
)
MV_EXTRA = 5
"""Multivector channels per token besides the points: com, velocity, omega, gravity, plane."""

_E01, _E02, _E03, _E12, _E13, _E23, _E123 = (
    PGA.blade_names.index(name) for name in ("e01", "e02", "e03", "e12", "e13", "e23", "e123")
)


def embed_line(point: Tensor, direction: Tensor) -> Tensor:
    """The line through ``point`` along ``direction`` (both ``(..., 3)``) as a PGA bivector.

    Equals the translation to ``point`` of the line through the origin
    ``d1 e23 - d2 e13 + d3 e12``; its ideal part is ``point x direction``. (The rotation axis of
    an angular velocity: a bivector transforms as a pseudovector should.)
    """
    if point.shape[-1:] != (3,) or direction.shape[-1:] != (3,):
        raise ValueError(
            f"point and direction must have shape (..., 3), got {tuple(point.shape)} and "
            f"{tuple(direction.shape)}"
        )
    out = point.new_zeros(*torch.broadcast_shapes(point.shape, direction.shape)[:-1], 16)
    moment = torch.linalg.cross(point.expand_as(direction), direction)
    out[..., _E01], out[..., _E02], out[..., _E03] = moment.unbind(-1)
    out[..., _E23] = direction[..., 0]
    out[..., _E13] = -direction[..., 1]
    out[..., _E12] = direction[..., 2]
    return out


def moved_points(points: Tensor, output: Tensor) -> Tensor:
    """The prediction read from GATr: each input point ``P`` moved by its output ``D``.

    ``P + D - (w(D) / w(P)) P`` keeps the weight ``w(P)`` of the input point (``e123``, exactly
    +-1), so the coordinates are read without dividing by a learned weight, and the reading is
    equivariant (a reflection negates ``P``, ``D`` and both weights). ``(..., 16) -> (..., 3)``.
    """
    w_p, w_d = points[..., _E123 : _E123 + 1], output[..., _E123 : _E123 + 1]
    return extract_direction(points + output - (w_d / w_p) * points) / w_p


def _context(scene: dict[str, Tensor], name: str) -> Tensor:
    """A per-scene context ``(B, 3)`` broadcast to the tokens: ``(B, T, 3)``."""
    value, mask = scene[name], scene["mask"]
    return value.unsqueeze(-2).expand(*mask.shape, 3)


def pga_tokens(scene: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """``(mv (B, T, P + 5, 16), s (B, T, S))``: the GATr input of a scene (see the module doc)."""
    points, com = scene["points"], scene["com"]
    channels = [
        embed_point(points),
        embed_point(com).unsqueeze(-2),
        embed_direction(scene["velocity"]).unsqueeze(-2),
        embed_line(com, scene["angular_velocity"]).unsqueeze(-2),
        embed_direction(_context(scene, "gravity")).unsqueeze(-2),
        plane_through(_context(scene, "plane_normal"), _context(scene, "plane_point")).unsqueeze(
            -2
        ),
    ]
    return torch.cat(channels, dim=-2), scene["scalars"]


def raw_tokens(scene: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """What the Transformer sees, as raw numbers: ``points (B, T, P + 2, 3)`` (surface points,
    centre of mass, a point of the ground plane) and ``vectors (B, T, 4, 3)`` (velocity, angular
    velocity, gravity, plane normal); the invariants are ``scene["scalars"]``."""
    points = torch.cat(
        [
            scene["points"],
            scene["com"].unsqueeze(-2),
            _context(scene, "plane_point").unsqueeze(-2),
        ],
        dim=-2,
    )
    vectors = torch.stack(
        [
            scene["velocity"],
            scene["angular_velocity"],
            _context(scene, "gravity"),
            _context(scene, "plane_normal"),
        ],
        dim=-2,
    )
    return points, vectors


# ------------------------------------------------------------------------------ E(3) on scenes
_POSITIONS = ("points", "com", "plane_point", "target")
_VECTORS = ("velocity", "gravity", "plane_normal")


def apply_euclidean(scene: dict[str, Tensor], rotation: Tensor, translation: Tensor) -> dict:
    """The scene moved by ``x -> R x + t``: ``rotation (B, 3, 3)`` orthogonal (reflections
    allowed), ``translation (B, 3)``. Positions move, vectors rotate, the angular velocity is a
    pseudovector (``det(R) R omega``); invariants and the mask stay. Returns a new dict."""
    out = dict(scene)
    det = torch.linalg.det(rotation)
    for name in (*_POSITIONS, *_VECTORS, "angular_velocity"):
        if name not in scene:
            continue
        x = scene[name]
        r = rotation.to(x.dtype)
        extra = x.ndim - 2  # axes between the batch axis and the 3 coordinates
        r_b = r.reshape(r.shape[0], *([1] * extra), 3, 3)
        y = (r_b @ x.unsqueeze(-1)).squeeze(-1)
        if name in _POSITIONS:
            y = y + translation.to(x.dtype).reshape(-1, *([1] * extra), 3)
        if name == "angular_velocity":
            y = y * det.to(x.dtype).reshape(-1, *([1] * extra), 1)
        out[name] = y
    return out
