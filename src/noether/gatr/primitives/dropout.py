"""Grade dropout: drop whole grades of multivector channels, an equivariant regulariser."""

from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

from noether.algebra import Algebra
from noether.gatr.primitives.layout import layout

__all__ = ["grade_dropout"]


@cache
def _grade_index(algebra: Algebra, device: torch.device) -> Tensor:
    return torch.tensor(layout(algebra).grades, dtype=torch.long, device=device)


def grade_dropout(algebra: Algebra, x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each grade of each ``(token, channel)`` with probability ``p``, scale by ``1/(1-p)``.

    ``x: (dim, n, c)`` internal layout. The mask is shared by the components of a grade, and
    every versor maps a grade to itself, so dropout commutes with the group action.
    """
    if not training or p == 0.0:
        return x
    keep = torch.empty(algebra.n + 1, *x.shape[1:], device=x.device, dtype=x.dtype)
    keep.bernoulli_(1.0 - p).div_(1.0 - p)
    return x * keep.index_select(0, _grade_index(algebra, x.device))
