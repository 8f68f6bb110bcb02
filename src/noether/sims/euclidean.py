"""Random elements of E(3) for data augmentation: one implementation for every family.

Both the ``nbody`` task (augmentation of training batches) and the ``rigid`` task (a random or
fixed transformation per scene) draw their rotations and translations here. The two families
drew the determinant differently before they shared this function, and each keeps its random
stream, so recorded draws do not change: see ``determinant`` below.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

__all__ = ["random_euclidean"]


def random_euclidean(
    batch: int,
    *,
    shift: float,
    reflections: bool = True,
    determinant: Literal["haar", "coin"] = "haar",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """``batch`` Haar-random orthogonal matrices ``rotation (B, 3, 3)`` and Gaussian translations
    ``translation (B, 3)`` with standard deviation ``shift`` per axis (in the data's units).

    With ``reflections`` the matrices are Haar on O(3) (determinant -1 with probability 1/2),
    without it Haar on SO(3) (improper draws have their first column negated). ``determinant``
    says where the sign comes from when ``reflections`` is set; both give Haar on O(3), they
    differ only in the random numbers used:

    - ``"haar"``: the sign of the QR draw itself (the ``rigid`` task's stream);
    - ``"coin"``: one extra ``randint`` per matrix after the Gaussian draw (the ``nbody`` task's
      stream).

    Computed in float64, returned in ``dtype`` on ``device``.
    """
    if not math.isfinite(shift) or shift < 0:
        raise ValueError(f"shift must be finite and >= 0, got {shift!r}")
    if determinant not in ("haar", "coin"):
        raise ValueError(f"determinant must be 'haar' or 'coin', got {determinant!r}")
    gaussian = torch.randn(batch, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # Haar on O(3)
    det = torch.linalg.det(q)  # +-1
    if reflections and determinant == "coin":
        target = torch.randint(0, 2, (batch,), generator=generator) * 2 - 1
        q = q.clone()
        q[..., 0] = q[..., 0] * (det * target).sign().unsqueeze(-1)  # det(q) = target
    elif not reflections:
        q = q.clone()
        q[..., 0] = q[..., 0] * det.unsqueeze(-1)  # det(q) = +1 (det is +-1 to rounding)
    t = shift * torch.randn(batch, 3, generator=generator, dtype=torch.float64)
    return q.to(dtype=dtype, device=device), t.to(dtype=dtype, device=device)
