"""Helpers for the ET tests: a small ET with every parameter random, and random molecules."""

from __future__ import annotations

import torch

from noether.atoms.models.et import ET

CUTOFF = 4.0


def random_et(dtype=torch.float64, seed=0, **kwargs) -> ET:
    """A small ET with every parameter (biases too) random, so no term is trivially zero."""
    torch.manual_seed(seed)
    options = dict(hidden=16, layers=2, heads=4, num_rbf=8, cutoff=CUTOFF, dtype=dtype)
    model = ET(**{**options, **kwargs})
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.4)
    return model.eval()


def molecule(n=10, seed=0, dtype=torch.float64, spread=1.6):
    g = torch.Generator().manual_seed(seed)
    numbers = torch.randint(1, 10, (n,), generator=g)
    positions = torch.randn(n, 3, generator=g, dtype=dtype) * spread
    return numbers, positions


def energy_forces(model):
    def fn(numbers, positions):
        out = model(numbers, positions)
        return out["energy"].detach(), out["forces"].detach()

    return fn
