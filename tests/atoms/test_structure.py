import numpy as np
import pytest
from ase.build import molecule

from noether.atoms.structure import (
    bond_angles,
    bond_lengths,
    bonded_angles,
    covalent_bonds,
    pair_distances,
    radial_distribution,
    wasserstein,
)


def test_bonds_and_angles_of_ethane_and_water():
    ethane = molecule("C2H6")
    bonds = covalent_bonds(ethane.numbers, ethane.get_all_distances())
    assert len(bonds) == 7  # C-C and six C-H; no H-H
    assert (bonds[:, 0] < bonds[:, 1]).all()
    triples = bonded_angles(bonds, len(ethane))
    assert len(triples) == 12  # each carbon has four neighbours: 6 angles each
    water = molecule("H2O")
    wb = covalent_bonds(water.numbers, water.get_all_distances())
    angle = bond_angles(water.positions[None], bonded_angles(wb, 3))
    assert angle.shape == (1, 1)
    u, v = water.positions[1] - water.positions[0], water.positions[2] - water.positions[0]
    expected = np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert angle[0, 0] == pytest.approx(expected, abs=1e-9)
    lengths = bond_lengths(np.stack([water.positions, 2 * water.positions]), wb)
    np.testing.assert_allclose(lengths[1], 2 * lengths[0])


def test_pair_distances_rdf_and_wasserstein():
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(20, 6, 3))
    d = pair_distances(pos)
    assert d.shape == (20, 15)
    assert d[3, 0] == pytest.approx(np.linalg.norm(pos[3, 1] - pos[3, 0]))
    r, g = radial_distribution(pos, r_max=20.0, bins=400)
    width = r[1] - r[0]
    assert np.sum(g * 4 * np.pi * r**2 * width) == pytest.approx(1.0)
    a = rng.normal(size=1000)
    assert wasserstein(a, a) == 0.0
    assert wasserstein(a, a + 0.3) == pytest.approx(0.3)
