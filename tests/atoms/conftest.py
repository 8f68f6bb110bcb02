"""Fixtures for the atomistic tests: small labelled datasets, test geometries (one torch thread:
tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from noether.atoms.dataset import AtomsDataset

# Helpers shared by these tests live in atoms_testkit.py beside this file.
sys.path.insert(0, str(Path(__file__).parent))
from atoms_testkit import random_molecule


@pytest.fixture
def ethanol_like() -> AtomsDataset:
    """Five labelled frames of one 9-atom composition (random but valid numbers)."""
    rng = np.random.default_rng(0)
    z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])
    pos = np.stack([random_molecule(9, rng) for _ in range(5)])
    return AtomsDataset.from_arrays(z, pos, rng.normal(-300, 1, 5), rng.normal(size=(5, 9, 3)))


@pytest.fixture
def mixed() -> AtomsDataset:
    """Four frames of different sizes, one periodic, with partial labels and stress."""
    rng = np.random.default_rng(1)
    sizes = [3, 5, 2, 4]
    numbers = rng.integers(1, 10, sum(sizes))
    positions = np.concatenate([random_molecule(n, rng) for n in sizes])
    cell = np.zeros((4, 3, 3))
    cell[2] = np.diag([5.0, 6.0, 7.0]) + 0.3
    pbc = np.zeros((4, 3), bool)
    pbc[2] = True
    stress = np.zeros((4, 3, 3))
    s = rng.normal(size=(3, 3)) * 0.01
    stress[2] = s + s.T
    return AtomsDataset(
        numbers=numbers,
        positions=positions,
        offsets=np.concatenate([[0], np.cumsum(sizes)]),
        energy=rng.normal(size=4),
        forces=rng.normal(size=(sum(sizes), 3)),
        cell=cell,
        pbc=pbc,
        stress=stress,
        charges=rng.normal(size=sum(sizes)) * 0.1,
        energy_mask=np.array([True, False, True, True]),
        forces_mask=np.array([True, True, True, False]),
        stress_mask=np.array([False, False, True, False]),
    )
