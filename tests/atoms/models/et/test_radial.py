"""ET's radial functions (et/radial.py): the cosine cutoff and the ExpNormal basis."""

from __future__ import annotations

import math

import torch

from noether.atoms.models.et.radial import ExpNormalBasis, cosine_cutoff, expnormal


def test_radial_basis_and_cutoff():
    r = torch.tensor([0.0, 2.5, 5.0, 6.0], dtype=torch.float64)
    phi = cosine_cutoff(r, 5.0)
    assert torch.allclose(phi, torch.tensor([1.0, 0.5, 0.0, 0.0], dtype=torch.float64))
    means = torch.linspace(math.exp(-5.0), 1.0, 4, dtype=torch.float64)
    betas = torch.full((4,), 3.0, dtype=torch.float64)
    e = expnormal(r, means, betas, 5.0)
    assert e.shape == (4, 4)
    assert torch.allclose(e[0], torch.exp(-3.0 * (1.0 - means) ** 2))
    assert (e[2:] == 0).all()


def test_basis_module_starts_at_physnet_values_and_can_learn_them():
    basis = ExpNormalBasis(4, 5.0)
    assert basis.means[0] == torch.tensor(math.exp(-5.0), dtype=basis.means.dtype)
    assert not any(True for _ in basis.parameters())
    trainable = ExpNormalBasis(4, 5.0, trainable=True)
    assert {n for n, _ in trainable.named_parameters()} == {"means", "betas"}
    r = torch.linspace(0.0, 6.0, 7)
    assert torch.equal(basis(r), trainable(r).detach())
    assert basis(r).shape == (7, 4)
