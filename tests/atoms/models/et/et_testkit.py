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


def outputs_and_gradients(model, numbers, positions, batch=None):
    """Energies and forces of a call, and the parameter gradients of its summed energy."""
    model.zero_grad()
    out = model(numbers, positions, batch)
    model(numbers, positions, batch, compute_forces=False)["energy"].sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out["energy"].detach(), out["forces"].detach(), grads


def assert_same_outputs_and_gradients(model, first, second):
    """Two :func:`outputs_and_gradients` results agree (float64): outputs to 1e-12, gradients of
    every parameter (the last layer's unused vector weights aside) to 1e-10."""
    (e1, f1, g1), (e2, f2, g2) = first, second
    assert torch.allclose(e1, e2, atol=1e-12, rtol=0)
    assert torch.allclose(f1, f2, atol=1e-12, rtol=0)
    assert g1.keys() == g2.keys() and len(g1) >= len(list(model.parameters())) - 1
    for name in g1:
        assert torch.allclose(g1[name], g2[name], atol=1e-10, rtol=0), name
