import os
import subprocess
import sys
from pathlib import Path

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


def test_the_names_a_user_reaches_are_in_noether_atoms_without_lightning():
    code = (
        "import sys\n"
        "from noether.atoms import (AtomsDataset, NoetherCalculator, export_potential,\n"
        "    load_exported, load_model, load_potential, read_dataset, save_potential,\n"
        "    write_dataset)\n"
        "assert 'lightning' not in sys.modules, 'noether.atoms loaded Lightning'\n"
        "print(NoetherCalculator.__module__)\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "noether.atoms.calculator"


def test_a_model_that_is_not_a_potential_is_refused_naming_what_is_accepted(tmp_path):
    from noether.train.config import load_config
    from noether.train.run import train

    run = tmp_path / "toy"
    config = {
        "seed": 0,
        "model": {"name": "toy-mlp", "hidden": 8, "layers": 1},
        "task": {"name": "toy-regression", "n_samples": 32},
        "data": {"batch_size": 16, "split": [0.5, 0.25, 0.25]},
        "optim": {"name": "adamw", "lr": 0.01},
        "schedule": {"name": "cosine", "warmup_steps": 1},
        "trainer": {"max_epochs": 1, "progress_bar": False, "precision": "32"},
        "run": {"dir": str(run)},
    }
    train(load_config(config))  # a real run of another task: its model is a ToyMLP
    for source in (run, run / "checkpoints" / "best.ckpt"):
        with pytest.raises(ValueError, match=r"the run's model is a ToyMLP, not an atomistic"):
            NoetherCalculator(source)
    with pytest.raises(TypeError, match=r"Linear is not an atomistic potential; accepted: a"):
        NoetherCalculator(torch.nn.Linear(3, 1))
