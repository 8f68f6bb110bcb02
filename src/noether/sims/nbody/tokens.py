"""How an n-body system becomes tokens, for each geometric algebra and for the Transformer.

One token per body. In a geometric algebra (EGA, PGA, CGA) a body is three multivector channels
and one auxiliary scalar channel (:class:`GeometricTokens`):

=========  ==================================================================================
channel 0  the mass as a scalar; in CGA also the point at infinity ``e_inf`` (grade 1, see below)
channel 1  the position as a point
channel 2  the velocity as a direction (translation-invariant)
scalar 0   the mass
=========  ==================================================================================

The prediction is read from the model's first output channel ``D`` as a move of the input point
``P``: ``P + D - w(D) P`` is a point of weight exactly 1 (``w`` is the weight, see below), and
its position is the prediction. This is ``P + D`` renormalised to first order in ``w(D)``;
unlike extracting ``P + D`` by division it never divides by a small weight (an untrained model
whose ``w(D)`` is near -1 would otherwise predict points far away), and it is just as
equivariant: under a translation by ``t`` the coordinates of ``D`` move by ``w(D) t``, which
``- w(D) P`` cancels. A zero output predicts "nothing moves".

Points and directions per algebra (``x``, ``v`` in length and length/time units), embedded and
extracted by :mod:`noether.algebra.ega`, :mod:`~noether.algebra.pga` and
:mod:`~noether.algebra.cga`:

- EGA G(3,0,0): a point is the vector ``x - c`` from the system's centre ``c`` (the mean
  position), a direction is the vector ``v``. EGA has no translations; centring makes the
  pipeline translation-equivariant, and ``c`` is added back to the extracted point.
- PGA G(3,0,1): a point is the trivector ``e123 - x e023 + y e013 - z e012`` (GATr's convention),
  a direction is the ideal point with ``e123 = 0``. Extraction divides by the ``e123`` weight.
- CGA G(4,1,0), ``e4**2 = 1``, ``e5**2 = -1``, ``e_inf = e4 + e5``, ``e_o = (e5 - e4) / 2``:
  a point is the null vector ``x + |x|^2 e_inf / 2 + e_o``, a direction is ``v ^ e_inf``.
  Extraction divides the Euclidean part by the weight ``-X . e_inf``. A network equivariant
  under all of Pin(4,1) (conformal maps: also dilations and inversions) could not fit a law
  that fixes a length scale; ``e_inf`` in channel 0 breaks that symmetry down to E(3), whose
  elements are exactly those that leave ``e_inf`` fixed.

How each pipeline transforms under a Pin element (the twisted sandwich of
:meth:`noether.algebra.Algebra.sandwich`) acting as the Euclidean map ``x -> R x + t``: embedding
the moved system equals the sandwich of the embedded system for EGA and CGA, for every ``R`` in
O(3). In PGA it does for rotations; under a reflection the sandwich gives a point and a direction
of weight ``-1`` (the reflected point, with reversed orientation) while the embedding of the
reflected body has weight ``+1``: the two inputs differ by the grade involution. A Pin(3,0,1)
-equivariant model is therefore guaranteed SE(3)-equivariant from coordinates; reflections are
exact only when its extracted points commute with the grade involution on such inputs (true for
some models, measured, not promised; see ``tests/sims/nbody/test_task.py``).

The Transformer gets the raw numbers (per body the point ``x``, the vector ``v`` and the scalar
``m``) and predicts a displacement (:class:`RawTokens`); :func:`noether.sims.euclidean.random_euclidean`
draws the augmentation.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from noether.algebra import CGA, EGA, PGA, Algebra, cga, ega, pga

__all__ = [
    "ALGEBRAS",
    "TOKENS_VERSION",
    "GeometricTokens",
    "RawTokens",
    "apply_euclidean",
    "embed_direction",
    "embed_point",
    "embed_scalar",
    "extract_point",
    "infinity",
    "invert_euclidean",
    "point_weight",
    "tokens_for",
]

TOKENS_VERSION = 2
"""Bumped whenever tokens or readout change, so that studies do not reuse older runs."""
ALGEBRAS = {"ega": EGA, "pga": PGA, "cga": CGA}
OBJECTS = {"ega": ega, "pga": pga, "cga": cga}


def _name(algebra: Algebra) -> str:
    for name, known in ALGEBRAS.items():
        if algebra == known:
            return name
    raise ValueError(
        f"n-body tokens are defined for EGA G(3,0,0), PGA G(3,0,1) and CGA G(4,1,0), got {algebra}"
    )


def _objects(algebra: Algebra):
    """The object module of the algebra (:mod:`noether.algebra.ega`, ``pga`` or ``cga``)."""
    return OBJECTS[_name(algebra)]


def _index(algebra: Algebra, *vectors: int) -> int:
    """Position of the blade ``e_{vectors}`` (0-based basis-vector indices, sorted)."""
    return algebra.blades.index(tuple(vectors))


def embed_scalar(algebra: Algebra, m: Tensor) -> Tensor:
    """Scalars as multivectors: ``(...) -> (..., dim)``."""
    return _objects(algebra).embed_scalar(m.unsqueeze(-1))


def infinity(algebra: Algebra, like: Tensor) -> Tensor:
    """CGA's point at infinity ``e_inf = e4 + e5``: ``(dim,)`` in the dtype and device of ``like``."""
    if _name(algebra) != "cga":
        raise ValueError(f"the point at infinity is a CGA object, got {algebra}")
    out = like.new_zeros(algebra.dim)
    out[_index(algebra, 3)] = 1.0
    out[_index(algebra, 4)] = 1.0
    return out


def embed_point(algebra: Algebra, x: Tensor) -> Tensor:
    """Points ``x: (..., 3)`` as multivectors ``(..., dim)`` (EGA: the vector ``x``)."""
    return _objects(algebra).embed_point(x)


def embed_direction(algebra: Algebra, v: Tensor) -> Tensor:
    """Directions ``v: (..., 3)`` (translation-invariant vectors) as multivectors ``(..., dim)``."""
    return _objects(algebra).embed_direction(v)


def point_weight(algebra: Algebra, mv: Tensor) -> Tensor:
    """The weight of a point-like multivector ``(..., dim) -> (...)``: ``e123`` in PGA,
    ``-X . e_inf`` in CGA (1 for embedded points, 0 for directions); zero in EGA."""
    algebra.check(mv, "mv")
    name = _name(algebra)
    if name == "ega":
        return mv.new_zeros(mv.shape[:-1])
    if name == "pga":
        return mv[..., _index(algebra, 1, 2, 3)]
    return mv[..., _index(algebra, 4)] - mv[..., _index(algebra, 3)]


def extract_point(algebra: Algebra, mv: Tensor) -> Tensor:
    """The point a multivector ``(..., dim)`` represents: ``(..., 3)``.

    EGA: the vector part. PGA: ``(-e023, e013, -e012) / e123``. CGA: the Euclidean part of the
    vector divided by its weight ``-X . e_inf``. Weights below 1e-3 in magnitude are raised to
    it. Exact on embedded points and invariant under rescaling the weight.
    """
    return _objects(algebra).extract_point(mv)


class GeometricTokens:
    """Bodies to multivector tokens of one algebra and predictions back to positions.

    Shapes: ``masses (B, n)``, ``positions``/``velocities (B, n, 3)``; tokens
    ``mv (B, n, 3, dim)`` and ``s (B, n, 1)``; the model maps them to ``(mv_out, s_out)`` with
    ``mv_out (B, n, C_out >= 1, dim)``.
    """

    mv_channels = 3
    s_channels = 1

    def __init__(self, algebra: Algebra) -> None:
        self.name = _name(algebra)
        self.algebra = algebra

    def embed(self, masses: Tensor, positions: Tensor, velocities: Tensor) -> tuple:
        """``(mv, s, centre)``; ``centre (B, 1, 3)`` is the mean position in EGA, else zeros."""
        alg = self.algebra
        if self.name == "ega":
            centre = positions.mean(dim=-2, keepdim=True)
        else:
            centre = positions.new_zeros(*positions.shape[:-2], 1, 3)
        invariant = embed_scalar(alg, masses)
        if self.name == "cga":
            invariant = invariant + infinity(alg, masses)
        points = embed_point(alg, positions - centre)
        directions = embed_direction(alg, velocities)
        mv = torch.stack([invariant, points, directions], dim=-2)
        return mv, masses.unsqueeze(-1), centre

    def extract(self, mv_out: Tensor, mv_in: Tensor, centre: Tensor) -> Tensor:
        """Positions ``(B, n, 3)`` of the input point moved by the first output channel ``D``:
        the point ``P + D - w(D) P`` (weight 1; see the module docstring)."""
        if mv_out.ndim < 2 or mv_out.shape[-1] != self.algebra.dim:
            raise ValueError(
                f"the model must return multivectors (..., channels, {self.algebra.dim}) for "
                f"{self.algebra}, got shape {tuple(mv_out.shape)}"
            )
        point, move = mv_in[..., 1, :], mv_out[..., 0, :]
        moved = point + move - point_weight(self.algebra, move).unsqueeze(-1) * point
        return extract_point(self.algebra, moved) + centre

    def predict(
        self, model: nn.Module, masses: Tensor, positions: Tensor, velocities: Tensor
    ) -> Tensor:
        """Final positions ``(B, n, 3)`` predicted by a multivector model ``(mv, s) -> (mv, s)``."""
        mv, s, centre = self.embed(masses, positions, velocities)
        out = model(mv, s)
        mv_out = out[0] if isinstance(out, tuple | list) else out
        return self.extract(mv_out, mv, centre)


POINT_API = ("points", "vectors", "scalars")
"""Keyword arguments of noether's models on raw 3D inputs (``noether.gatr.Transformer``)."""


class RawTokens:
    """Bodies as raw 3D inputs: per body one point ``x``, one vector ``v`` and one scalar ``m``
    (``points (B, n, 1, 3)``, ``vectors (B, n, 1, 3)``, ``scalars (B, n, 1)``), the keyword API
    of noether's point models. The model's first output vector is a displacement added to the
    initial position."""

    name = "raw"

    def predict(
        self, model: nn.Module, masses: Tensor, positions: Tensor, velocities: Tensor
    ) -> Tensor:
        out = model(
            points=positions.unsqueeze(-2),
            vectors=velocities.unsqueeze(-2),
            scalars=masses.unsqueeze(-1),
        )
        vectors = out.vectors if hasattr(out, "vectors") else out[1]
        if vectors is None or vectors.shape[-1] != 3 or vectors.ndim != positions.ndim + 1:
            shape = None if vectors is None else tuple(vectors.shape)
            raise ValueError(
                f"a raw-coordinate model must return vectors of shape (..., bodies, >= 1, 3) "
                f"(displacements), got {shape}"
            )
        return positions + vectors[..., 0, :]


def model_algebra(model: nn.Module) -> Algebra | None:
    """The algebra a model computes in (its ``algebra`` or ``variant.algebra``), else None."""
    for candidate in (getattr(model, "algebra", None), getattr(model, "variant", None)):
        if isinstance(candidate, Algebra):
            return candidate
        inner = getattr(candidate, "algebra", None)
        if isinstance(inner, Algebra):
            return inner
    return None


def tokens_for(model: nn.Module) -> GeometricTokens | RawTokens:
    """The tokenisation a model needs: raw 3D inputs for a model whose ``forward`` takes
    ``points, vectors, scalars``; multivectors for a model with an ``algebra`` (``GATr``)."""
    parameters = inspect.signature(model.forward).parameters
    if all(name in parameters for name in POINT_API):
        return RawTokens()
    algebra = model_algebra(model)
    if algebra is None:
        raise ValueError(
            f"{type(model).__name__} is neither a multivector model (an `algebra` attribute and "
            f"forward(mv, s)) nor a model on raw 3D inputs (forward(points, vectors, scalars))"
        )
    return GeometricTokens(algebra)


# --------------------------------------------------------------------------- augmentation
def apply_euclidean(x: Tensor, rotation: Tensor, translation: Tensor | None = None) -> Tensor:
    """``x (B, n, 3) -> x R^T + t`` per system (``R (B, 3, 3)``, ``t (B, 3)``)."""
    out = x @ rotation.transpose(-1, -2)
    return out if translation is None else out + translation.unsqueeze(-2)


def invert_euclidean(y: Tensor, rotation: Tensor, translation: Tensor | None = None) -> Tensor:
    """The inverse of :func:`apply_euclidean`: ``(y - t) R``."""
    if translation is not None:
        y = y - translation.unsqueeze(-2)
    return y @ rotation
