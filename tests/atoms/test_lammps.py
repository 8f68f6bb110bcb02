"""The ML-IAP unified model (noether.atoms.lammps) without LAMMPS: the stated receptive field
is tight, the pair-list energy equals the model's on periodic and molecular frames, the pickled
object round-trips, bad inputs are refused. Runs inside LAMMPS: test_lammps_engine.py."""

import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from atoms_testkit import PairMLP
from lammps_testkit import chains, strong, tiny_models, water_box

from noether.atoms.lammps import (
    LAMMPSPotential,
    domain_pairs,
    energy_from_pairs,
    load_lammps,
    pair_forces,
    write_lammps,
)
from noether.atoms.models.et import ET
from noether.atoms.reference import Morse


@pytest.mark.parametrize("name", ["et", "et-no-neighbor-embedding", "equiformer", "morse"])
def test_message_hops_is_the_tight_receptive_field(name):
    """On a chain spaced 0.8 cutoff (only nearest neighbours within the cutoff), the energy of
    atom 0 moves with atom `hops` and not with atom `hops + 1`."""
    model = strong(tiny_models()[name])
    hops = model.message_hops
    n = hops + 3
    spacing = 0.8 * model.cutoff
    positions = torch.tensor([[k * spacing, 0.0, 0.0] for k in range(n)], dtype=torch.float64)
    numbers = torch.tensor([1, 6] * n)[:n]

    def energy_0(moved: int) -> float:
        p = positions.clone()
        p[moved] += torch.tensor([-0.1, 0.3, 0.2], dtype=torch.float64) * model.cutoff
        return float(model(numbers, p, compute_forces=False)["atomic_energies"][0].detach())

    base = float(model(numbers, positions, compute_forces=False)["atomic_energies"][0].detach())
    assert abs(energy_0(hops) - base) > 1e-10  # float64: far above rounding
    assert energy_0(hops + 1) == base  # not one bit


@pytest.mark.parametrize("name", ["et", "equiformer"])
def test_energy_from_pairs_equals_the_model_with_ghost_images(name):
    model = tiny_models()[name].eval()
    for atoms in (water_box(8, 7.0), bulk("C", "diamond", a=3.57, cubic=True)):
        atoms.rattle(0.02, seed=1)
        periodic_pairs = domain_pairs(atoms, model.message_hops * model.cutoff)
        numbers, local, pair_i, pair_j, rij, owner = periodic_pairs
        assert len(numbers) > len(atoms)  # ghost images take part
        atomic, energy, fij = energy_from_pairs(model, numbers, local, pair_i, pair_j, rij)
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, owner, pair_forces(fij, pair_i, pair_j, len(numbers)))
        ref = model(
            torch.tensor(atoms.numbers), torch.tensor(atoms.positions), None,
            torch.tensor(atoms.cell[:]), torch.tensor(atoms.pbc), compute_stress=True,
        )  # fmt: skip
        scale = float(ref["forces"].abs().max())
        assert energy == pytest.approx(float(ref["energy"]), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(atomic, ref["atomic_energies"].numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(forces, ref["forces"].numpy(), rtol=0, atol=1e-10 * scale)


def test_one_hop_too_few_gives_a_wrong_energy():
    """The limitation, shown: at the natural pair cutoff (the model's own) a 3-hop ET misses the
    ghost-ghost pairs and its energy is wrong."""
    model = strong(tiny_models()["et"])
    atoms = chains(model.cutoff)
    ref = float(model(torch.tensor(atoms.numbers), torch.tensor(atoms.positions), None,
                      torch.tensor(atoms.cell[:]), torch.tensor(atoms.pbc))["energy"])  # fmt: skip
    for hops, exact in ((1, False), (2, False), (3, True)):
        pairs = domain_pairs(atoms, hops * model.cutoff)[:5]
        energy = energy_from_pairs(model, *pairs)[1]
        if exact:
            assert energy == pytest.approx(ref, rel=1e-12, abs=0)
        else:
            assert abs(energy - ref) > 1e-6 * abs(ref), (hops, energy, ref)


def test_pickled_model_round_trips_and_bad_inputs_are_refused(tmp_path):
    model = tiny_models()["et"].eval()
    path = write_lammps(model, tmp_path / "model.mliap.pkl", ["H", "C", "O"])
    unified = load_lammps(path)
    assert unified.element_types == ["H", "C", "O"]
    assert unified.rcutfac == pytest.approx(0.5 * 3 * 2.5)
    mol = molecule("CH3CH2OH")
    pairs = domain_pairs(mol, 7.5)[:5]
    assert energy_from_pairs(unified.model, *pairs)[1] == energy_from_pairs(model, *pairs)[1]
    assert LAMMPSPotential(Morse()).element_types[:3] == ["H", "He", "Li"]
    with pytest.raises(ValueError, match=r"\.pt/\.pth"):
        write_lammps(model, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="beyond this ET's range"):
        LAMMPSPotential(ET(hidden=16, layers=1, max_z=10), ["Cu"])
    with pytest.raises(ValueError, match="hops must be at least 1"):
        LAMMPSPotential(model, hops=0)
    # a Potential that does not state its reach is refused, unless the reach is given
    with pytest.raises(ValueError, match=r"PairMLP does not state message_hops.*or pass hops"):
        LAMMPSPotential(PairMLP())
    assert LAMMPSPotential(PairMLP(), hops=1).rcutfac == pytest.approx(0.5 * 4.0)
    offset = ET(hidden=16, layers=1)
    offset.frame_offset.fill_(1.0)
    with pytest.raises(ValueError, match="frame_offset"):
        LAMMPSPotential(offset)
    with pytest.raises(TypeError, match="noether Potential"):
        LAMMPSPotential(torch.nn.Linear(1, 1))
