"""Classical unit-spin fields on the lattice: checks, random draws, moves and the magnetisation.

A spin field is a tensor ``(..., N, 3)`` of unit vectors, one per site, in float64 by default.
"""

from __future__ import annotations

import torch
from torch import Tensor

UNIT_TOLERANCE = 1e-6


def check_spins(spins: Tensor, n_sites: int) -> Tensor:
    """Return ``spins`` as float64 after checking shape ``(..., n_sites, 3)``, finiteness, unit norm."""
    if not isinstance(spins, Tensor):
        raise TypeError(f"spins must be a torch.Tensor, got {type(spins).__name__}")
    if not spins.is_floating_point():
        raise TypeError(f"spins must be a floating-point tensor, got dtype {spins.dtype}")
    if spins.dim() < 2 or spins.shape[-2:] != (n_sites, 3):
        raise ValueError(f"spins must have shape (..., {n_sites}, 3), got {tuple(spins.shape)}")
    if not torch.isfinite(spins).all():
        raise ValueError("spins contain NaN or inf")
    norm_error = (spins.double().norm(dim=-1) - 1).abs().max().item() if spins.numel() else 0.0
    if norm_error > UNIT_TOLERANCE:
        raise ValueError(
            f"spins must be unit vectors: largest | |S_i| - 1 | is {norm_error:.3g} "
            f"(accepted: <= {UNIT_TOLERANCE:g}); normalise them first"
        )
    return spins.double()


def random_spins(
    *shape: int, n_sites: int, generator: torch.Generator | None = None, dtype=torch.float64
) -> Tensor:
    """Independent uniform unit vectors ``(*shape, n_sites, 3)`` (the infinite-temperature state)."""
    v = torch.randn(*shape, n_sites, 3, generator=generator, dtype=dtype)
    return v / v.norm(dim=-1, keepdim=True)


def perturb(
    spins: Tensor, step: float | Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Symmetric random move on the sphere: ``normalise(S + step * xi)`` with Gaussian ``xi``.

    The density of the new vector depends only on its angle to the old one, so the proposal is
    symmetric and needs no Hastings factor. ``step`` broadcasts against ``spins[..., :1]``.
    """
    xi = torch.randn(spins.shape, generator=generator, dtype=spins.dtype)
    v = spins + step * xi
    return v / v.norm(dim=-1, keepdim=True)


def magnetisation(spins: Tensor) -> Tensor:
    """``|sum_i S_i| / N`` ``(...)`` for spins ``(..., N, 3)``."""
    return spins.mean(-2).norm(dim=-1)
