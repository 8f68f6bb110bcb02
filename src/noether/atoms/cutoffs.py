"""Smooth cutoff functions of pair distances, shared by models and priors.

Pure functions ``(…,) -> (…,)`` of distances in Å: 1 (or close to it) at short range, exactly 0 at
and beyond the cutoff, with zero slope there, so anything multiplied by them leaves the cutoff
without a jump in energy or force.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["cosine_cutoff"]


def cosine_cutoff(r: Tensor, cutoff: float) -> Tensor:
    """``½(cos(πr/r_c) + 1)`` below ``cutoff`` and 0 beyond: ``(…,) -> (…,)``.

    It is 1 at ``r = 0`` and falls to 0 with zero slope at ``r_c`` (continuous first derivative),
    so anything multiplied by it vanishes smoothly as a pair leaves the cutoff.
    """
    return torch.where(r < cutoff, 0.5 * (torch.cos(r * (math.pi / cutoff)) + 1.0), 0.0)
