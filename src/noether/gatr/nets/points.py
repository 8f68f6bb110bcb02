"""Raw 3D inputs and outputs shared by the point models (:class:`PointGATr`, :class:`Transformer`).

A token carries ``P`` points (positions, in the task's length unit), ``V`` vectors (velocities,
forces, directions: unaffected by translations) and ``S`` invariant scalars (masses, charges,
types). The models take ``points (..., T, P, 3)``, ``vectors (..., T, V, 3)``, ``scalars
(..., T, S)`` and return a :class:`PointOutputs` of the same kinds.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from noether.gatr.primitives.masks import check_token_mask, zero_padding

__all__ = [
    "PointOutputs",
    "apply_isometry",
    "check_point_inputs",
    "invert_isometry_outputs",
    "mask_outputs",
    "random_isometry",
]


class PointOutputs(NamedTuple):
    """``points (..., T, P, 3)``, ``vectors (..., T, V, 3)``, ``scalars (..., T, S)``; a kind
    the model does not output is ``None``."""

    points: Tensor | None
    vectors: Tensor | None
    scalars: Tensor | None


def check_point_inputs(
    name: str,
    points: Tensor | None,
    vectors: Tensor | None,
    scalars: Tensor | None,
    counts: tuple[int, int, int],
    check_finite: bool = False,
    token_mask: Tensor | None = None,
) -> tuple[tuple[int, ...], int, torch.dtype]:
    """Check the three inputs against ``counts = (P, V, S)``; return ``(batch_shape, tokens, dtype)``.

    ``token_mask (..., tokens)`` (True: a real token) is checked too; ``check_finite`` rejects
    NaN or infinity at the real tokens only (padded tokens may hold anything)."""
    given = {"points": points, "vectors": vectors, "scalars": scalars}
    shape = None
    dtype = None
    for (kind, value), count in zip(given.items(), counts):
        tail = (count, 3) if kind != "scalars" else (count,)
        if count == 0:
            if value is not None:
                raise ValueError(
                    f"{name}: got {kind} of shape {tuple(value.shape)} but the model takes none"
                )
            continue
        if value is None:
            raise ValueError(
                f"{name}: {kind} of shape (..., tokens, {', '.join(map(str, tail))}) are required"
            )
        if not isinstance(value, Tensor) or not value.is_floating_point():
            kind_name = value.dtype if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"{name}: {kind} must be a floating tensor, got {kind_name}")
        if value.ndim < len(tail) + 1 or tuple(value.shape[value.ndim - len(tail) :]) != tail:
            raise ValueError(
                f"{name}: {kind} must have shape (..., tokens, {', '.join(map(str, tail))}), got "
                f"{tuple(value.shape)}"
            )
        lead = tuple(value.shape[: value.ndim - len(tail)])
        if shape is None:
            shape, dtype = lead, value.dtype
        elif lead != shape or value.dtype != dtype:
            raise ValueError(
                f"{name}: inputs disagree: {kind} has leading shape {lead} and dtype {value.dtype}, "
                f"expected {shape} and {dtype}"
            )
    if shape is None:
        raise ValueError(f"{name}: no inputs given")
    if not shape or shape[-1] == 0:
        raise ValueError(f"{name}: inputs need a tokens axis with at least one token, got {shape}")
    if token_mask is not None:
        check_token_mask(token_mask, shape[:-1], shape[-1])
    if check_finite:
        for kind, value in given.items():
            if value is not None and not torch.isfinite(zero_padding(value, token_mask)).all():
                raise ValueError(f"{name}: {kind} contains NaN or infinity")
    return shape[:-1], shape[-1], dtype


def random_isometry(
    batch_shape: tuple[int, ...],
    translation: float,
    *,
    dtype: torch.dtype,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Haar-random orthogonal matrices (rotations and reflections, ``(*batch, 3, 3)``) and
    Gaussian translations of standard deviation ``translation`` (``(*batch, 3)``)."""
    a = torch.randn(*batch_shape, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    t = translation * torch.randn(*batch_shape, 3, generator=generator, dtype=torch.float64)
    return q.to(dtype=dtype, device=device), t.to(dtype=dtype, device=device)


def apply_isometry(
    rotation: Tensor, translation: Tensor, points: Tensor | None, vectors: Tensor | None
) -> tuple[Tensor | None, Tensor | None]:
    """``p -> R p + t`` and ``v -> R v`` per sample: ``rotation (*batch, 3, 3)``, ``translation
    (*batch, 3)``, ``points (*batch, T, P, 3)``, ``vectors (*batch, T, V, 3)``."""
    r = rotation[..., None, None, :, :]
    if points is not None:
        points = (r @ points[..., None]).squeeze(-1) + translation[..., None, None, :]
    if vectors is not None:
        vectors = (r @ vectors[..., None]).squeeze(-1)
    return points, vectors


def invert_isometry_outputs(
    rotation: Tensor, translation: Tensor, outputs: PointOutputs
) -> PointOutputs:
    """Undo :func:`apply_isometry` on the model's outputs: ``p -> R^T (p - t)``, ``v -> R^T v``."""
    rt = rotation.transpose(-1, -2)
    points, vectors = outputs.points, outputs.vectors
    if points is not None:
        points = points - translation[..., None, None, :]
    points, vectors = apply_isometry(rt, torch.zeros_like(translation), points, vectors)
    return PointOutputs(points, vectors, outputs.scalars)


def mask_outputs(outputs: PointOutputs, token_mask: Tensor) -> PointOutputs:
    """Zero the outputs at padded tokens (``token_mask (..., T)`` False), whatever they held."""
    keep = token_mask.to(torch.bool)
    return PointOutputs(*(zero_padding(t, keep) for t in outputs))
