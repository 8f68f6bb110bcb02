import math

import numpy as np
import pytest
import torch

from noether.lattice.geometry import permute_sites
from noether.lattice.model import DoubleExchangeModel, grand_potential
from noether.lattice.spins import random_spins
from noether.testing import check_o3, equivariance_error

PAULI = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]


def dense_energy(model: DoubleExchangeModel, spins: np.ndarray) -> float:
    """Independent reference: build h[S] site by site in numpy and sum over its spectrum."""
    L, n = model.L, model.n_sites
    h = np.zeros((2 * n, 2 * n), dtype=complex)
    for x in range(L):
        for y in range(L):
            i = x * L + y
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                j = ((x + dx) % L) * L + (y + dy) % L
                h[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] += -model.t * np.eye(2)
            h[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] += (
                0.5 * model.J * sum(spins[i, a] * PAULI[a] for a in range(3))
            )
    eps = np.linalg.eigvalsh(h)
    x = -(eps - model.mu) / model.T
    return float(-model.T * np.sum(np.logaddexp(0.0, x)))


def free_band(L: int) -> torch.Tensor:
    k = 2 * math.pi * torch.arange(L, dtype=torch.float64) / L
    return (-2 * (torch.cos(k)[:, None] + torch.cos(k)[None])).flatten()


@pytest.mark.parametrize("L", [2, 3, 4])
def test_energy_matches_dense_diagonalisation(L):
    model = DoubleExchangeModel(L=L, t=0.8, J=3.0, mu=-1.2, T=0.15)
    spins = random_spins(3, n_sites=model.n_sites)
    ours = model.energy(spins)
    for b in range(3):
        assert abs(ours[b].item() - dense_energy(model, spins[b].numpy())) < 1e-10


@pytest.mark.parametrize("L", [2, 3, 6])
def test_free_fermions_give_the_analytic_band_energy(L):
    model = DoubleExchangeModel(L=L, J=0.0, mu=-0.7, T=0.3)
    band = free_band(L)
    expected = -2 * model.T * torch.log1p(torch.exp(-(band - model.mu) / model.T)).sum()
    energy = model.energy(random_spins(2, n_sites=model.n_sites))
    torch.testing.assert_close(energy, expected.expand(2), atol=1e-10, rtol=0)


def test_zero_temperature_limit_is_the_filled_sea():
    model = DoubleExchangeModel(L=4, J=2.0, mu=0.0, T=1.0)
    spins = random_spins(n_sites=model.n_sites)
    eps = model.eigenvalues(spins)
    k = 10 + int(torch.argmax(eps[11:22] - eps[10:21]))  # a clear gap near quarter filling
    mu = float(eps[k] + eps[k + 1]) / 2
    assert eps[k + 1] - eps[k] > 0.05
    filled = (eps[: k + 1] - mu).sum()
    for T in (1e-3, 1e-5, 1e-8):
        cold = DoubleExchangeModel(L=4, J=2.0, mu=mu, T=T)
        omega = cold.energy(spins)
        assert torch.isfinite(omega)
        torch.testing.assert_close(omega, filled, atol=1e-10, rtol=0)


@pytest.mark.parametrize("shift", [1e3, 1e6])
def test_grand_potential_is_stable_far_from_the_fermi_level(shift):
    eps = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    T = 0.01
    full = grand_potential(eps, mu=shift, T=T)  # every level far below mu: Omega = sum(eps - mu)
    torch.testing.assert_close(full, (eps - shift).sum(), atol=1e-9, rtol=1e-15)
    empty = grand_potential(
        eps, mu=-shift, T=T
    )  # every level far above: exp(-huge) underflows to 0
    assert torch.isfinite(empty) and empty.abs() < 1e-300


def test_batched_equals_single():
    model = DoubleExchangeModel(L=3, J=2.0, mu=-0.5, T=0.1)
    spins = random_spins(2, 3, n_sites=model.n_sites)
    batched = model.energy(spins)
    for a in range(2):
        for b in range(3):
            assert batched[a, b].item() == pytest.approx(
                model.energy(spins[a, b]).item(), abs=1e-12
            )


@pytest.mark.parametrize("det", [1, -1])
def test_energy_is_invariant_under_global_spin_rotations(det):
    model = DoubleExchangeModel(L=4, J=3.0, mu=-1.0, T=0.1)
    spins = random_spins(3, n_sites=model.n_sites)
    err = check_o3(model.energy, (spins,), ("vector",), ("scalar",), det=det)
    assert err < 1e-10
    # a non-invariant function of the spins is caught by the same check
    assert check_o3(lambda s: s[..., 0].sum(-1), (spins,), ("vector",), ("scalar",), det=det) > 1e-3


def test_energy_is_invariant_under_lattice_translations_and_point_group():
    model = DoubleExchangeModel(L=4, J=3.0, mu=-1.0, T=0.1)
    lattice = model.lattice
    spins = random_spins(2, n_sites=model.n_sites)
    maps = [lattice.translation(a, b) for a in range(4) for b in range(4)] + lattice.point_group()

    def sample(generator):
        perm = maps[int(torch.randint(len(maps), (1,), generator=generator))]
        return (lambda xs: (permute_sites(xs[0], perm),)), (lambda ys: ys)

    assert equivariance_error(model.energy, (spins,), sample, n_samples=12) < 1e-10


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="T must be positive"):
        DoubleExchangeModel(T=0.0)
    with pytest.raises(ValueError, match="T must be positive"):
        DoubleExchangeModel(T=-1.0)
    with pytest.raises(ValueError, match="finite"):
        DoubleExchangeModel(J=float("nan"))
    with pytest.raises(ValueError, match="integer >= 2"):
        DoubleExchangeModel(L=1)
    model = DoubleExchangeModel(L=2)
    with pytest.raises(ValueError, match="unit vectors"):
        model.energy(2 * random_spins(n_sites=4))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4, 3\)"):
        model.energy(random_spins(n_sites=9))
    with pytest.raises(ValueError, match="NaN"):
        model.energy(torch.full((4, 3), float("nan")))
    with pytest.raises(TypeError, match="floating-point"):
        model.energy(torch.ones(4, 3, dtype=torch.long))
