"""Invariants of component-major multivectors: inner products, norms and distance features.

All functions take the internal layout ``x: (dim, n, channels)``
(:mod:`noether.gatr.primitives.layout`), whose first ``n_nondegenerate`` components are the
blades the invariant inner product ``<reverse(x) y>_0`` sees.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from noether.algebra import Algebra
from noether.gatr.primitives.layout import layout

__all__ = [
    "distance_features",
    "inner_product",
    "point_components",
    "point_features",
    "squared_norm",
]


def inner_product(algebra: Algebra, x: Tensor, y: Tensor) -> Tensor:
    """``<reverse(x) y>_0`` per channel: ``(dim, n, c), (dim, n, c) -> (n, c)``."""
    lay = layout(algebra)
    m = lay.n_nondegenerate
    products = x[:m] * y[:m]
    if not lay.euclidean_metric:
        products = products * lay.signs(x.device, x.dtype)
    return products.sum(0)


def squared_norm(algebra: Algebra, x: Tensor) -> Tensor:
    """``|<reverse(x) x>_0|`` per channel: ``(dim, n, c) -> (n, c)``, zero on null blades."""
    return inner_product(algebra, x, x).abs()


@cache
def point_components(algebra: Algebra) -> tuple[int, tuple[int, ...]]:
    """Internal positions of a projective point in G(p,0,1): the homogeneous weight (the
    non-degenerate pseudoscalar, ``e123`` in PGA) and the ``p`` coordinates (the grade-p blades
    with ``e0``: ``e012, e013, e023``)."""
    if not (algebra.r == 1 and algebra.q == 0):
        raise ValueError(
            f"points as grade-p blades need a projective algebra G(p,0,1), got {algebra}"
        )
    lay = layout(algebra)
    coords = tuple(
        p
        for p, i in enumerate(lay.order)
        if algebra.grades[i] == algebra.p and not algebra.blade_metric[i]
    )
    return lay.pseudoscalar, coords


def point_features(w: Tensor, t: Tensor, eps: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Query and key features ``(p + 2, ...)`` of points with weights ``w: (...)`` and
    coordinates ``t: (p, ...)`` (see :func:`distance_features`)."""
    scale = w / (w * w + eps)
    w_n = w * scale
    t = t * scale
    t2 = (t * t).sum(0)
    w2 = w_n * w_n
    wt = w_n * t
    return torch.cat([w2[None], t2[None], wt]), torch.cat([-t2[None], -w2[None], 2 * wt])


def distance_features(algebra: Algebra, x: Tensor, eps: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Features of the points in ``x`` whose dot product is minus their squared distance.

    With the point normalised softly, ``w~ = w^2 / (w^2 + eps)`` and ``t~ = t w / (w^2 + eps)``
    (``w`` the homogeneous weight, ``t`` the coordinates; ``t~ ~ x`` once ``w^2 >> eps``), the
    query features ``[w~^2, |t~|^2, w~ t~]`` and key features ``[-|t~|^2, -w~^2, 2 w~ t~]`` have
    the dot product ``-|w~_q t~_k - w~_k t~_q|^2``, about ``-|x_q - x_k|^2``: exactly invariant
    (the soft normaliser depends on ``w`` only, which is invariant up to the sign that odd
    versors give ``t`` as well).

    Args:
        x: ``(dim, n, c)`` internal layout of a projective algebra G(p,0,1).
        eps: softening of ``1 / w``.

    Returns:
        ``(query, key)``, each ``(p + 2, n, c)``.
    """
    weight_index, coord_index = point_components(algebra)
    return point_features(x[weight_index], x[list(coord_index)], eps)
