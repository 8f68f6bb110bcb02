"""GFN2-xTB labels from SMILES: physical values, QM9-like built-in molecules."""

from __future__ import annotations

import numpy as np
import pytest

from noether.atoms.properties.xtb import SMALL_MOLECULES, single_point, xtb_properties


def test_xtb_labels_are_physical():
    """Water: a bent molecule with a dipole of about 2 D and a gap of order 10 eV; methane has no
    dipole; conformers of one molecule share the same atoms."""
    data = xtb_properties(["O", "C"], conformers=2, seed=3)
    assert len(data) == 4 and data.names == ["O", "O", "C", "C"]
    mu, gap = data.targets["mu"], data.targets["gap"]
    assert 1.0 < mu[0] < 3.5 and mu[2] < 0.2
    assert np.all((gap > 5) & (gap < 25))
    assert np.allclose(data.targets["gap"], data.targets["lumo"] - data.targets["homo"])
    # the label is a function of the geometry: recomputing one gives the same numbers
    a, b = data.offsets[1], data.offsets[2]
    again = single_point(data.numbers[a:b], data.positions[a:b])
    assert again["energy"] == pytest.approx(data.targets["energy"][1], abs=1e-8)


def test_builtin_molecules_are_qm9_like():
    from rdkit import Chem

    assert len(set(SMALL_MOLECULES)) == len(SMALL_MOLECULES) >= 100
    for s in SMALL_MOLECULES:
        mol = Chem.MolFromSmiles(s)
        assert mol is not None and mol.GetNumHeavyAtoms() <= 9
        assert {a.GetSymbol() for a in mol.GetAtoms()} <= {"C", "N", "O", "F"}
