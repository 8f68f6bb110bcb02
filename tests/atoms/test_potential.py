"""The Potential API on real potentials: Morse and LJ (against ASE) and a learnable pair MLP."""

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.calculators.lj import LennardJones as AseLJ
from ase.calculators.morse import MorsePotential as AseMorse
from atoms_testkit import PairMLP, random_molecule

from noether.atoms.batch import AtomsBatch
from noether.atoms.dataset import AtomsDataset
from noether.atoms.reference import LennardJones, Morse
from noether.testing import check_e3, check_permutation

F64 = torch.float64


def periodic_copper(seed=0):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.1, seed=seed)
    tilt = np.random.default_rng(seed).uniform(-0.4, 0.4, (3, 3))
    atoms.set_cell(atoms.cell[:] + tilt, scale_atoms=True)
    return atoms


def inputs(atoms, dtype=F64):
    return (
        torch.tensor(atoms.numbers),
        torch.tensor(atoms.positions, dtype=dtype),
        None,
        torch.tensor(atoms.cell[:], dtype=dtype) if atoms.pbc.any() else None,
        torch.tensor(atoms.pbc) if atoms.pbc.any() else None,
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (Morse(epsilon=0.3, r0=2.5, rho0=4.0, dtype=F64), AseMorse(epsilon=0.3, r0=2.5, rho0=4.0)),
        (
            LennardJones(sigma=2.3, epsilon=0.2, rc=6.0, dtype=F64),
            AseLJ(sigma=2.3, epsilon=0.2, rc=6.0, smooth=True),
        ),
    ],
)
def test_energy_forces_stress_equal_ase(ours, theirs):
    atoms = periodic_copper()
    atoms.calc = theirs
    out = ours.eval()(*inputs(atoms), compute_stress=True)
    assert out["energy"].item() == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(out["forces"].numpy(), atoms.get_forces(), atol=1e-10)
    np.testing.assert_allclose(
        out["atomic_energies"].numpy(), atoms.get_potential_energies(), atol=1e-10
    )
    np.testing.assert_allclose(out["stress"][0].numpy(), atoms.get_stress(voigt=False), atol=1e-12)


@pytest.mark.parametrize(
    "model", [Morse(epsilon=0.5, r0=1.4, rho0=3.0, dtype=F64), PairMLP(dtype=F64)]
)
def test_forces_match_finite_differences_float64(model):
    rng = np.random.default_rng(1)
    z = torch.tensor([6, 1, 1, 8, 7, 1, 6])
    pos = torch.tensor(random_molecule(7, rng, 1.0))
    model.eval()
    forces = model(z, pos)["forces"]
    h = 1e-5
    numeric = torch.zeros_like(pos)
    for a in range(7):
        for c in range(3):
            plus, minus = pos.clone(), pos.clone()
            plus[a, c] += h
            minus[a, c] -= h
            e_plus = model(z, plus, compute_forces=False)["energy"]
            e_minus = model(z, minus, compute_forces=False)["energy"]
            numeric[a, c] = -(e_plus - e_minus).item() / (2 * h)
    assert (forces - numeric).abs().max() < 1e-7
    assert forces.abs().max() > 1e-2  # a test that could fail


def test_stress_matches_finite_differences_under_strain():
    atoms = periodic_copper(3)
    model = Morse(epsilon=0.3, r0=2.5, rho0=4.0, dtype=F64).eval()
    z, pos, _, cell, pbc = inputs(atoms)
    stress = model(z, pos, None, cell, pbc, compute_stress=True)["stress"][0]
    h, volume = 1e-6, abs(torch.linalg.det(cell))
    numeric = torch.zeros(3, 3, dtype=F64)
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1, -1):
                eps = torch.zeros(3, 3, dtype=F64)
                eps[a, b] = eps[b, a] = sign * h / (1 if a == b else 2)
                deform = torch.eye(3, dtype=F64) + eps
                e = model(z, pos @ deform, None, cell @ deform, pbc, compute_forces=False)
                energies.append(e["energy"].item())
            numeric[a, b] = (energies[0] - energies[1]) / (2 * h) / volume
    assert (stress - numeric).abs().max() < 1e-9
    assert stress.abs().max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_e3_and_permutation_equivariance(dtype):
    model = PairMLP(dtype=dtype).eval()
    z = torch.tensor([6, 1, 1, 8, 7, 1, 6, 1])
    pos = torch.tensor(random_molecule(8, np.random.default_rng(2)), dtype=dtype)

    def energy_and_forces(z, pos):
        out = model(z, pos)
        return out["energy"].detach(), out["forces"].detach(), out["atomic_energies"].detach()

    tol = 1e-10 if dtype == torch.float64 else 1e-4
    actions_out = ("scalar", "vector", "scalar")
    assert check_e3(energy_and_forces, (z, pos), ("scalar", "position"), actions_out) < tol
    assert check_permutation(energy_and_forces, (z, pos), (0, 0), (None, 0, 0)) < tol
    broken = lambda z, pos: energy_and_forces(z, pos + pos[:, :1] ** 2)  # noqa: E731
    assert check_e3(broken, (z, pos), ("scalar", "position"), actions_out) > 1e-3


def test_batched_equals_single_and_periodic_mix():
    model = PairMLP(dtype=F64).eval()
    rng = np.random.default_rng(4)
    sizes = [5, 8, 3]
    frames = [random_molecule(n, rng) for n in sizes]
    cu = periodic_copper()
    numbers = [rng.integers(1, 9, n) for n in sizes] + [cu.numbers]
    ds = AtomsDataset(
        numbers=np.concatenate(numbers),
        positions=np.concatenate([*frames, cu.positions]),
        offsets=np.concatenate([[0], np.cumsum([*sizes, len(cu)])]),
        cell=np.stack([np.zeros((3, 3))] * 3 + [cu.cell[:]]),
        pbc=np.array([[False] * 3] * 3 + [[True] * 3]),
    )
    out = model.predict(AtomsBatch.from_dataset(ds, range(4)))
    for k in range(4):
        one = AtomsBatch.from_dataset(ds, [k])
        single = model.predict(one)
        assert torch.allclose(out["energy"][k], single["energy"][0], atol=1e-12)
        s = slice(int(ds.offsets[k]), int(ds.offsets[k + 1]))
        assert torch.allclose(out["forces"][s], single["forces"], atol=1e-12)


def test_dtype_is_per_model_and_global_default_untouched():
    default = torch.get_default_dtype()
    m32, m64 = Morse(dtype=torch.float32), Morse(dtype=torch.float64)
    z, pos = torch.tensor([1, 1]), torch.tensor([[0.0, 0, 0], [1.1, 0, 0]], dtype=F64)
    assert m32.eval()(z, pos)["forces"].dtype == torch.float32
    assert m64.eval()(z, pos)["forces"].dtype == torch.float64
    assert torch.get_default_dtype() == default


def test_priors_and_standardisation_are_separate_pieces():
    model = PairMLP(dtype=F64).eval()
    z = torch.tensor([1, 6, 8])
    pos = torch.tensor([[0.0, 0, 0], [1.1, 0, 0], [0, 1.3, 0]], dtype=F64)
    base = model(z, pos)
    table = torch.zeros(119, dtype=F64)
    table[1], table[6], table[8] = -13.6, -1029.0, -2041.0
    model.atomref.set(table)
    model.scale_shift.set(2.0, 0.5)
    out = model(z, pos)
    expected = 2.0 * base["atomic_energies"] + 0.5 + table[z]
    assert torch.allclose(out["atomic_energies"], expected, atol=1e-9)
    assert torch.allclose(out["forces"], 2.0 * base["forces"], atol=1e-12)


def test_training_mode_keeps_the_force_graph():
    model = PairMLP(dtype=F64).train()
    z = torch.tensor([1, 6, 8, 1])
    pos = torch.tensor(random_molecule(4, np.random.default_rng(5)))
    out = model(z, pos)
    loss = out["forces"].square().mean()
    loss.backward()
    assert model.mlp[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("z", "pos", "error", "message"),
    [
        ([1, 0], [[0, 0, 0], [1, 0, 0]], ValueError, r"frame 0, atom 1: atomic number 0 is not an"),
        ([1, 200], [[0, 0, 0], [1, 0, 0]], ValueError, r"frame 0, atom 1: atomic number 200"),
        (
            [1, 1],
            [[0, 0, 0], [1, float("inf"), 0]],
            ValueError,
            r"frame 0, atom 1: positions .*inf",
        ),
        (
            [1, 1],
            [[0, 0, 0], [float("nan"), 0, 0]],
            ValueError,
            r"frame 0, atom 1: positions .*nan",
        ),
        ([1, 1, 1], [[0, 0, 0], [1, 0, 0]], ValueError, r"numbers has shape \(3,\)"),
        ([1, 1], [[0, 0], [1, 0]], ValueError, r"positions must have shape \(n_atoms, 3\)"),
        ([1.0, 1.0], [[0, 0, 0], [1, 0, 0]], TypeError, "numbers must be an integer tensor"),
    ],
)
def test_bad_input(z, pos, error, message):
    with pytest.raises(error, match=message):
        Morse()(torch.tensor(z), torch.tensor(pos, dtype=F64))


def test_bad_input_in_a_batch_names_the_frame_and_its_atom():
    z = torch.tensor([1, 1, 6, 1, 1])
    pos = torch.tensor(random_molecule(5, np.random.default_rng(0)))
    pos[3, 2] = float("nan")
    batch = torch.tensor([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"frame 1, atom 1: positions .*nan"):
        Morse()(z, pos, batch)
    z[4] = 0
    with pytest.raises(ValueError, match=r"frame 1, atom 2: atomic number 0"):
        Morse()(z, pos.nan_to_num(), batch)


def test_stress_needs_a_cell():
    with pytest.raises(ValueError, match="frame 0: stress needs a periodic frame"):
        Morse()(torch.tensor([1, 1]), torch.tensor([[0.0, 0, 0], [1, 0, 0]]), compute_stress=True)


def test_molecule_from_ase_is_handled():
    atoms = molecule("CH3CH2OH")
    out = Morse(epsilon=0.2, r0=1.3, rho0=4.0, dtype=F64).eval()(*inputs(atoms))
    assert torch.isfinite(out["energy"]).all() and out["forces"].shape == (9, 3)


def test_a_model_refuses_elements_it_was_not_trained_on():
    model = Morse(epsilon=0.3, r0=1.0, rho0=4.0, elements=["O", "H"], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"frame 0, atom 2: element N \(atomic number 7\)"):
        model(
            torch.tensor([8, 1, 7]),
            torch.tensor([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]]),
        )
