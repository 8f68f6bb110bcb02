"""torch.export: the exported file gives the model's energies, forces and stress."""

import numpy as np
import pytest
import torch
from ase.build import bulk
from atoms_testkit import PairMLP, random_molecule

from noether.atoms.export import export_potential, load_exported
from noether.atoms.reference import Morse


def test_molecule_export_matches_the_model_for_any_size(tmp_path):
    model = PairMLP(dtype=torch.float64).eval()
    model.scale_shift.set(0.8, -2.0)
    export_potential(model, tmp_path / "m.pt2")
    exported = load_exported(tmp_path / "m.pt2")
    rng = np.random.default_rng(0)
    for n in (3, 11):
        z = torch.tensor(rng.integers(1, 9, n))
        pos = torch.tensor(random_molecule(n, rng))
        a, b = model(z, pos), exported(z, pos)
        assert torch.allclose(a["energy"], b["energy"], atol=1e-12, rtol=0)
        assert torch.allclose(a["forces"], b["forces"], atol=1e-12, rtol=0)
        assert torch.allclose(a["atomic_energies"], b["atomic_energies"], atol=1e-12, rtol=0)


def test_periodic_export_matches_energy_forces_stress_and_refuses_small_cells(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=1)
    cell, pbc = torch.tensor(atoms.cell[:]), torch.tensor(atoms.pbc)
    model = Morse(epsilon=0.3, r0=2.5, rho0=4.0, dtype=torch.float64).eval()
    export_potential(model, tmp_path / "cu.pt2", cell=cell, pbc=pbc)
    exported = load_exported(tmp_path / "cu.pt2")
    z, pos = torch.tensor(atoms.numbers), torch.tensor(atoms.positions)
    a = model(z, pos, None, cell, pbc, compute_stress=True)
    b = exported(z, pos, None, cell, pbc, compute_stress=True)
    for key in ("energy", "forces", "stress"):
        assert torch.allclose(a[key], b[key], atol=1e-12, rtol=0), key
    small = bulk("Cu", "fcc", a=3.6)
    with pytest.raises(ValueError, match=r"needs periodic images \[.*\] .* exported with"):
        exported(
            torch.tensor(small.numbers).repeat(2),
            torch.zeros(2, 3, dtype=torch.float64) + torch.tensor([[0.0], [1.0]]),
            None,
            torch.tensor(small.cell[:]),
            pbc,
        )
    with pytest.raises(ValueError, match="exported for periodic frames"):
        exported(z, pos)


def test_loading_a_file_that_is_not_an_export(tmp_path):
    (tmp_path / "x.pt2").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"x.pt2: not a readable torch.export file"):
        load_exported(tmp_path / "x.pt2")


def test_exported_file_runs_without_noether(tmp_path):
    """The .pt2 file alone: a fresh interpreter where `import noether` fails loads and runs it."""
    import subprocess
    import sys

    model = Morse(epsilon=0.2, r0=1.3, rho0=4.0, dtype=torch.float64).eval()
    export_potential(model, tmp_path / "m.pt2")
    z = torch.tensor([6, 1, 1])
    pos = torch.tensor([[0.0, 0, 0], [1.2, 0, 0], [0, 1.1, 0.3]], dtype=torch.float64)
    want = model(z, pos)
    script = f"""
import sys
sys.modules["noether"] = None  # any import of noether now raises
import torch
program = torch.export.load({str(tmp_path / "m.pt2")!r}).module()
pos = torch.tensor({pos.tolist()}, dtype=torch.float64, requires_grad=True)
strain = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
cell, pbc = torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.bool)
atomic, energy = program(torch.tensor({z.tolist()}), pos, cell, pbc, strain)
forces = -torch.autograd.grad(energy.sum(), pos)[0]
print(repr(energy.item()), *forces.reshape(-1).tolist())
"""
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    numbers = [float(v) for v in done.stdout.split()]
    assert numbers[0] == pytest.approx(want["energy"].item(), abs=1e-12)
    np.testing.assert_allclose(numbers[1:], want["forces"].reshape(-1).numpy(), atol=1e-12)


def test_export_of_a_2d_cell_with_a_zero_third_vector(tmp_path):
    slab = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 1))
    slab.rattle(0.05, seed=2)
    cell = torch.tensor(slab.cell[:])
    cell[2] = 0.0
    pbc = torch.tensor([True, True, False])
    model = Morse(epsilon=0.3, r0=2.5, rho0=4.0, dtype=torch.float64).eval()
    export_potential(model, tmp_path / "slab.pt2", cell=cell, pbc=pbc)
    exported = load_exported(tmp_path / "slab.pt2")
    z, pos = torch.tensor(slab.numbers), torch.tensor(slab.positions)
    a, b = model(z, pos, None, cell, pbc), exported(z, pos, None, cell, pbc)
    for key in ("energy", "forces"):
        assert torch.allclose(a[key], b[key], atol=1e-12, rtol=0), key
    with pytest.raises(ValueError, match="stress needs a periodic cell of positive volume"):
        exported(z, pos, None, cell, pbc, compute_stress=True)


@pytest.fixture
def water_model(tmp_path):
    """A Morse potential trained (by declaration) on H and O, exported for molecules and for a
    cubic box of 6 Å."""
    model = Morse(epsilon=0.3, r0=1.0, rho0=4.0, elements=["O", "H"], dtype=torch.float64)
    export_potential(model, tmp_path / "molecule.pt2")
    box = torch.eye(3, dtype=torch.float64) * 6.0
    export_potential(model, tmp_path / "box.pt2", cell=box, pbc=torch.ones(3, dtype=torch.bool))
    return load_exported(tmp_path / "molecule.pt2"), load_exported(tmp_path / "box.pt2"), box


WATER = torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]], dtype=torch.float64)


def test_an_export_refuses_elements_it_was_not_trained_on(water_model):
    molecule, _, _ = water_model
    assert molecule.meta["elements"] == [1, 8]
    assert molecule(torch.tensor([8, 1, 1]), WATER)["energy"].isfinite().all()
    with pytest.raises(ValueError, match=r"atom 0: element C \(atomic number 6\) is not one this "):
        molecule(torch.tensor([6, 1, 1]), WATER)
    with pytest.raises(ValueError, match=r"accepted: H, O$"):
        molecule(torch.tensor([8, 1, 9]), WATER)


def test_an_export_refuses_overlapping_atoms_and_says_the_threshold(water_model):
    molecule, box, cell = water_model
    close = WATER.clone()
    close[2] = close[1] + torch.tensor([0.3, 0.0, 0.0], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"atoms 1 and 2 are 0.3 Å apart .* at least 0.5 Å"):
        molecule(torch.tensor([8, 1, 1]), close)
    # across a face of the box: 5.8 Å apart inside it, 0.2 Å through the boundary
    across = WATER.clone()
    across[2] = torch.tensor([5.8, 0.0, 0.0], dtype=torch.float64)
    pbc = torch.ones(3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"atoms 0 and 2 are 0.2 Å apart \(periodic images"):
        box(torch.tensor([8, 1, 1]), across, None, cell, pbc)
    assert molecule(torch.tensor([8, 1, 1]), across)["energy"].isfinite().all()


def test_an_export_refuses_nan_and_the_wrong_kind_of_frame(water_model):
    molecule, box, cell = water_model
    nan = WATER.clone()
    nan[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"atom 1: positions .*nan.* are not finite"):
        molecule(torch.tensor([8, 1, 1]), nan)
    pbc = torch.ones(3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"exported for molecular frames but got pbc=\[True"):
        molecule(torch.tensor([8, 1, 1]), WATER, None, cell, pbc)
    with pytest.raises(ValueError, match=r"exported for periodic frames but got pbc=\[False"):
        box(torch.tensor([8, 1, 1]), WATER)
