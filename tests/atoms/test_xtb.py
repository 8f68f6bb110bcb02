"""GFN2-xTB sampling: labels are xTB's own energies and forces of each saved geometry."""

import numpy as np
import pytest

pytest.importorskip("tblite")

from noether.atoms.molecules import build_molecule
from noether.atoms.xtb import XTBSampling, sample_molecule, xtb_calculator

SMALL = XTBSampling(frames=6, temperatures=(300.0, 600.0), stride=3, equilibration=5)


def test_frames_carry_xtb_labels_in_ev_and_are_seeded():
    _, atoms = build_molecule("ethanol")
    ds = sample_molecule(atoms, SMALL, seed=3)
    assert len(ds) == 6 and ds.n_atoms.tolist() == [9] * 6
    check = ds.to_atoms(4)
    check.calc = xtb_calculator()
    assert ds.energy[4] == pytest.approx(check.get_potential_energy(), abs=1e-7)
    np.testing.assert_allclose(ds.forces[36:45], check.get_forces(), atol=2e-5)
    assert -320 < ds.energy.mean() < -300  # ethanol in GFN2-xTB is about -309 eV, not Hartree
    again = sample_molecule(atoms, SMALL, seed=3)
    np.testing.assert_array_equal(ds.positions, again.positions)
    np.testing.assert_array_equal(ds.energy, again.energy)
    other = sample_molecule(atoms, SMALL, seed=4)
    assert not np.array_equal(ds.positions, other.positions)


def test_bad_settings():
    with pytest.raises(ValueError, match="temperatures must be positive"):
        XTBSampling(temperatures=(-5.0,))
    with pytest.raises(ValueError, match="need frames >= 1, stride >= 1"):
        XTBSampling(frames=0)
