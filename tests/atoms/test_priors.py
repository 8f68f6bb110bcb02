"""The ZBL screened nuclear repulsion prior: value, forces, cutoff, composition with a model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from noether.atoms.checkpoint import load_potential, save_potential
from noether.atoms.models.et import ET
from noether.atoms.potential import Potential
from noether.atoms.priors import ZBL, zbl_pair_energy


class ZBLOnly(Potential):
    """A potential whose whole energy is the ZBL prior (the model part is zero)."""

    def __init__(self, cutoff: float = 3.0):
        super().__init__(cutoff)
        self.priors.append(ZBL(cutoff))
        self.to(torch.float64)

    def atomic_energies(self, graph):
        return graph.lengths.new_zeros(graph.numbers.shape[0])


def zbl_by_hand(z_i: int, z_j: int, r: float, cutoff: float) -> float:
    """The ZBL formula written out with plain floats (constants typed in, not imported)."""
    bohr, hartree = 0.5291772105638411, 27.211386024367243  # Å, eV (ase.units, CODATA 2014)
    a = 0.8854 * bohr / (z_i**0.23 + z_j**0.23)
    x = r / a
    phi = (
        0.1818 * math.exp(-3.2 * x)
        + 0.5099 * math.exp(-0.9423 * x)
        + 0.2802 * math.exp(-0.4029 * x)
        + 0.02817 * math.exp(-0.2016 * x)
    )
    switch = 0.5 * (math.cos(math.pi * r / cutoff) + 1.0) if r < cutoff else 0.0
    return hartree * bohr * z_i * z_j / r * phi * switch


def test_pair_energy_equals_the_hand_computed_value():
    # C-O at 1.2 Å, cutoff 3 Å: a = 0.150013 Å, x = 7.99928, φ = 0.0170504, switch 0.654508,
    # 14.399645 eV·Å · 48 / 1.2 Å = 575.98581 eV, so V = 6.427772 eV.
    r = torch.tensor([1.2], dtype=torch.float64)
    value = zbl_pair_energy(torch.tensor([6]), torch.tensor([8]), r, 3.0)
    assert value.item() == pytest.approx(6.427772, rel=1e-6)
    assert value.item() == pytest.approx(zbl_by_hand(6, 8, 1.2, 3.0), rel=1e-12)


def molecule(seed: int = 0, n: int = 6):
    g = torch.Generator().manual_seed(seed)
    numbers = torch.tensor([1, 6, 7, 8, 16, 1][:n])
    positions = torch.randn(n, 3, generator=g, dtype=torch.float64) * 1.2
    return numbers, positions


def test_energy_is_the_sum_over_pairs_and_forces_match_finite_differences():
    model = ZBLOnly(cutoff=3.0)
    numbers, positions = molecule()
    out = model(numbers, positions)
    expected = sum(
        zbl_by_hand(
            int(numbers[i]), int(numbers[j]), float((positions[i] - positions[j]).norm()), 3.0
        )
        for i in range(len(numbers))
        for j in range(i + 1, len(numbers))
    )
    assert expected > 1.0  # the pairs are close enough for the repulsion to matter
    assert out["energy"].item() == pytest.approx(expected, rel=1e-12)
    h = 1e-5
    fd = torch.zeros_like(positions)
    for a in range(len(numbers)):
        for k in range(3):
            plus, minus = positions.clone(), positions.clone()
            plus[a, k] += h
            minus[a, k] -= h
            e_plus = model(numbers, plus, compute_forces=False)["energy"].item()
            e_minus = model(numbers, minus, compute_forces=False)["energy"].item()
            fd[a, k] = -(e_plus - e_minus) / (2 * h)
    assert torch.allclose(out["forces"], fd, atol=1e-6, rtol=1e-7)


def test_energy_and_force_go_smoothly_to_zero_at_the_cutoff():
    model = ZBLOnly(cutoff=3.0)

    def dimer(r: float):
        positions = torch.tensor([[0.0, 0, 0], [0, 0, r]], dtype=torch.float64)
        out = model(torch.tensor([6, 8]), positions)
        return out["energy"].item(), out["forces"][1, 2].item()

    assert dimer(3.0 + 1e-9) == (0.0, 0.0)
    rs = np.linspace(2.9, 3.1, 41)
    scan = np.array([dimer(float(r)) for r in rs])
    energies, forces = scan[:, 0], scan[:, 1]
    dr = rs[1] - rs[0]
    assert np.all(np.abs(np.diff(energies)) <= np.abs(forces).max() * dr * 1.01 + 1e-15)
    for delta in (1e-3, 1e-6):  # energy ~ δ², force ~ δ below the cutoff
        e_in, f_in = dimer(3.0 - delta)
        assert 0.0 < e_in < 1.0 * delta**2
        assert 0.0 < f_in < 1.0 * delta
    assert dimer(2.5)[0] > 1e-3  # and the repulsion is real inside


def test_et_with_zbl_adds_the_prior_and_keeps_it_through_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    options = dict(hidden=16, layers=1, heads=2, num_rbf=8, cutoff=4.0, dtype=torch.float64)
    plain = ET(**options).eval()
    with_zbl = ET(**options, zbl_cutoff=3.0).eval()
    with_zbl.load_state_dict(plain.state_dict())
    numbers, positions = molecule(seed=1)
    a, b = plain(numbers, positions), with_zbl(numbers, positions)
    zbl = ZBLOnly(cutoff=3.0)(numbers, positions)
    assert torch.allclose(b["energy"], a["energy"] + zbl["energy"], atol=1e-10, rtol=0)
    assert torch.allclose(b["forces"], a["forces"] + zbl["forces"], atol=1e-10, rtol=0)
    again = load_potential(save_potential(tmp_path / "et.pt", with_zbl))
    assert torch.equal(again(numbers, positions)["energy"], b["energy"])
    with pytest.raises(ValueError, match="zbl_cutoff"):
        ET(**options, zbl_cutoff=5.0)


def test_matches_torchmdnet_zbl():
    zbl_module = pytest.importorskip("torchmdnet.priors.zbl")
    numbers, positions = molecule(seed=2)
    theirs = zbl_module.ZBL(
        cutoff_distance=3.0,
        max_num_neighbors=32,
        atomic_number=list(range(100)),
        distance_scale=1e-10,  # Å in m
        energy_scale=1.602176634e-19,  # eV in J
    ).double()
    y = torch.zeros(1, 1, dtype=torch.float64)
    batch = torch.zeros(len(numbers), dtype=torch.long)
    expected = theirs.post_reduce(y, numbers, positions, batch).item()
    ours = ZBLOnly(cutoff=3.0)(numbers, positions)["energy"].item()
    assert expected > 1.0
    # TorchMD-NET raises the integer atomic numbers to 0.23 in float32 (an int tensor ** float
    # is float32), a relative error of ~1e-7 in the screening length that the exponentials
    # (d·x up to ~8) amplify a few times; its e²/(4πε₀) = 2.30707755e-28 J·m has 9 digits.
    assert ours == pytest.approx(expected, rel=1e-6)
