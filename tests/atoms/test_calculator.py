import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.morse import MorsePotential

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.checkpoint import save_potential
from noether.atoms.export import export_potential
from noether.atoms.reference import Morse


def test_calculator_results_equal_the_model_and_ase(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.1, seed=2)
    model = Morse(epsilon=0.3, r0=2.5, rho0=4.0, dtype=torch.float64)
    save_potential(tmp_path / "m.pt", model)
    reference = atoms.copy()
    reference.calc = MorsePotential(epsilon=0.3, r0=2.5, rho0=4.0)
    for source in (model, tmp_path / "m.pt"):
        atoms.calc = NoetherCalculator(source)
        out = model.eval()(
            torch.tensor(atoms.numbers),
            torch.tensor(atoms.positions),
            None,
            torch.tensor(atoms.cell[:]),
            torch.tensor(atoms.pbc),
            compute_stress=True,
        )
        assert atoms.get_potential_energy() == out["energy"].item()
        assert atoms.get_potential_energy() == atoms.get_total_energy() - atoms.get_kinetic_energy()
        np.testing.assert_array_equal(atoms.get_forces(), out["forces"].numpy())
        np.testing.assert_array_equal(atoms.get_potential_energies(), out["atomic_energies"])
        np.testing.assert_allclose(atoms.get_stress(), reference.get_stress(), atol=1e-12)
        assert atoms.calc.get_property("free_energy") == atoms.get_potential_energy()


def test_calculator_on_an_exported_model_and_dtype_cast(tmp_path):
    atoms = molecule("CH3CH2OH")
    model = Morse(epsilon=0.2, r0=1.3, rho0=4.0, dtype=torch.float64)
    export_potential(model, tmp_path / "m.pt2")
    atoms.calc = NoetherCalculator(tmp_path / "m.pt2")
    e_exported, f_exported = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = NoetherCalculator(model)
    assert e_exported == pytest.approx(atoms.get_potential_energy(), abs=1e-12)
    np.testing.assert_allclose(f_exported, atoms.get_forces(), atol=1e-12)
    with pytest.raises(PropertyNotImplementedError, match="stress needs a periodic cell"):
        atoms.get_stress()
    with pytest.warns(UserWarning, match="casting the model from torch.float64 to torch.float32"):
        NoetherCalculator(Morse(dtype=torch.float64), dtype=torch.float32)


def test_a_2d_cell_with_a_zero_third_vector_works():
    """ASE writes 2D systems with a zero cell vector along the non-periodic axis."""
    slab = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 1))
    slab.rattle(0.05, seed=0)
    slab.pbc = (True, True, False)
    slab.cell[2] = [0.0, 0.0, 0.0]
    vacuum = slab.copy()
    vacuum.cell[2] = [0.0, 0.0, 30.0]
    model = Morse(epsilon=0.3, r0=2.5, rho0=4.0, dtype=torch.float64)
    slab.calc, vacuum.calc = NoetherCalculator(model), NoetherCalculator(model)
    assert slab.get_potential_energy() == pytest.approx(vacuum.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(slab.get_forces(), vacuum.get_forces(), atol=1e-10)
