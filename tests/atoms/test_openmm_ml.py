"""noether in OpenMM through OpenMM-ML: the real engine, with tiny trained and saved models."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch

openmm = pytest.importorskip("openmm")
pytest.importorskip("openmmml")

from ase import units  # noqa: E402
from atoms_testkit import train_tiny_potential  # noqa: E402
from openmm import app, unit  # noqa: E402
from openmmml import MLPotential  # noqa: E402

from noether.atoms.calculator import NoetherCalculator  # noqa: E402
from noether.atoms.checkpoint import save_potential  # noqa: E402
from noether.atoms.export import export_potential  # noqa: E402
from noether.atoms.md import run_md, thermalize  # noqa: E402
from noether.atoms.models.equiformer import Equiformer  # noqa: E402
from noether.atoms.molecules import build_molecule  # noqa: E402
from noether.atoms.openmm_ml import NoetherPotentialImplFactory  # noqa: E402
from noether.atoms.stability import StabilityMonitor, energy_drift  # noqa: E402
from noether.core.checkpoints import load_trained_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KJ_PER_EV = units.mol / units.kJ


@pytest.fixture(scope="module", autouse=True)
def _registered():
    """The pyproject entry point, registered by hand: the shared test environment's editable
    install may predate it (test_the_entry_point_is_declared checks the declaration)."""
    if "noether" not in MLPotential._implFactories:
        MLPotential.registerImplFactory("noether", NoetherPotentialImplFactory())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A trained ET run folder, an Equiformer save_potential file and the ET exported for
    molecules and for a periodic box, all float64."""
    root = tmp_path_factory.mktemp("openmm")
    run = train_tiny_potential(root / "et")
    equiformer = Equiformer.from_preset("tiny", num_layers=1, cutoff=3.0, dtype="float64")
    with torch.no_grad():  # a model whose energies depend on its weights, not zero
        for p in equiformer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_potential(root / "equiformer.pt", equiformer)
    et = load_trained_model(run)
    export_potential(et, root / "molecule.pt2")
    export_potential(
        et, root / "box.pt2", cell=torch.eye(3) * BOX_A, pbc=torch.ones(3, dtype=torch.bool)
    )
    return {
        "run": run,
        "equiformer": root / "equiformer.pt",
        "molecule.pt2": root / "molecule.pt2",
        "box.pt2": root / "box.pt2",
    }


BOX_A = 9.0


def topology_of(atoms, box_angstrom: float | None = None) -> app.Topology:
    """One residue holding ``atoms`` (ASE), with a cubic box when given."""
    topology = app.Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    for k, z in enumerate(atoms.numbers):
        topology.addAtom(f"X{k}", app.Element.getByAtomicNumber(int(z)), residue)
    if box_angstrom is not None:
        topology.setPeriodicBoxVectors(np.eye(3) * box_angstrom * 0.1 * unit.nanometer)
    return topology


def periodic_box(seed: int = 0):
    """Three ethanols at random places and orientations in a cubic box of BOX_A Å, some across
    its faces (positions not wrapped)."""
    from ase import Atoms

    rng = np.random.default_rng(seed)
    ethanol = build_molecule("ethanol")[1]
    parts = []
    for centre in ([1.0, 1.0, 1.0], [4.5, 4.5, 8.5], [7.5, 2.0, 4.5]):
        part = ethanol.copy()
        part.rotate(rng.uniform(0, 360), rng.normal(size=3))
        part.translate(np.array(centre) - part.get_center_of_mass())
        parts.append(part)
    atoms = Atoms(
        numbers=np.concatenate([p.numbers for p in parts]),
        positions=np.concatenate([p.positions for p in parts]),
        cell=np.eye(3) * BOX_A,
        pbc=True,
    )
    return atoms


def context_of(system, platform: str = "Reference", timestep_fs: float = 0.5):
    integrator = openmm.VerletIntegrator(timestep_fs * unit.femtosecond)
    return openmm.Context(system, integrator, openmm.Platform.getPlatformByName(platform))


def openmm_energy_forces(context, positions_angstrom, groups=-1):
    context.setPositions(positions_angstrom * 0.1 * unit.nanometer)
    state = context.getState(getEnergy=True, getForces=True, groups=groups)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return energy, np.asarray(forces)


def ase_energy_forces(atoms, source):
    """The ASE calculator's energy and forces in OpenMM's units (kJ/mol, kJ/(mol nm))."""
    atoms = atoms.copy()
    atoms.calc = NoetherCalculator(source)
    return atoms.get_potential_energy() * KJ_PER_EV, atoms.get_forces() * KJ_PER_EV * 10.0


@pytest.mark.parametrize(
    ("name", "periodic"),
    [
        ("run", False),
        ("run", True),
        ("equiformer", False),
        ("equiformer", True),
        ("molecule.pt2", False),
        ("box.pt2", True),
    ],
)
def test_energy_and_forces_equal_the_ase_calculator(models, name, periodic):
    atoms = periodic_box() if periodic else build_molecule("ethanol")[1]
    system = MLPotential("noether", model=str(models[name])).createSystem(
        topology_of(atoms, BOX_A if periodic else None)
    )
    assert system.usesPeriodicBoundaryConditions() == periodic
    context = context_of(system)
    for step in range(3):  # three structures: the start and two displaced
        positions = atoms.positions + 0.05 * step * np.random.default_rng(step).normal(
            size=atoms.positions.shape
        )
        shifted = atoms.copy()
        shifted.positions = positions
        energy, forces = openmm_energy_forces(context, positions)
        ase_energy, ase_forces = ase_energy_forces(shifted, models[name])
        assert abs(ase_energy) > 1.0 and np.abs(ase_forces).max() > 1.0  # not a trivial model
        assert abs(energy - ase_energy) <= 1e-6 * abs(ase_energy)
        assert np.abs(forces - ase_forces).max() <= 1e-6 * np.abs(ase_forces).max()


def test_a_periodic_box_sees_its_images(models):
    """The same atoms in a box and as a molecule differ: pairs across the faces count."""
    atoms = periodic_box()
    potential = MLPotential("noether", model=str(models["run"]))
    periodic = context_of(potential.createSystem(topology_of(atoms, BOX_A)))
    molecular = context_of(potential.createSystem(topology_of(atoms)))
    e_box, _ = openmm_energy_forces(periodic, atoms.positions)
    e_mol, _ = openmm_energy_forces(molecular, atoms.positions)
    assert abs(e_box - e_mol) > 1e-3


def test_nve_in_openmm_conserves_energy_like_noether_md(models):
    """200 steps of 0.5 fs from the same velocities: OpenMM's Verlet and noether md's."""
    atoms = build_molecule("ethanol")[1]
    atoms.calc = NoetherCalculator(models["run"])
    thermalize(atoms, 300.0, np.random.default_rng(0))
    velocities = atoms.get_velocities()  # Å per ASE time unit
    steps, log_every = 200, 10
    start = atoms.copy()
    start.set_velocities(velocities)
    start.calc = NoetherCalculator(models["run"])
    # the tiny model is no chemistry (it lets a hydrogen go): let bonds break, stop at overlaps
    monitor = StabilityMonitor(max_bond_stretch=100.0)
    ours = run_md(
        start, steps=steps, log_every=log_every, initialize_velocities=False, monitor=monitor
    )

    system = MLPotential("noether", model=str(models["run"])).createSystem(
        topology_of(atoms), removeCMMotion=False
    )
    context = context_of(system, timestep_fs=0.5)
    context.setPositions(atoms.positions * 0.1 * unit.nanometer)
    nm_per_ps = velocities * units.fs * 1e3 * 0.1  # Å/(ASE time) -> nm/ps
    context.setVelocities(nm_per_ps * unit.nanometer / unit.picosecond)
    times, totals = [], []
    for k in range(0, steps + 1, log_every):
        if k:
            context.getIntegrator().step(log_every)
        state = context.getState(getEnergy=True)
        total = state.getPotentialEnergy() + state.getKineticEnergy()
        times.append(0.5 * k)
        totals.append(total.value_in_unit(unit.kilojoule_per_mole) / KJ_PER_EV)
    drift = energy_drift(np.array(times), np.array(totals), len(atoms))
    fluctuation = float(np.std(totals) * 1e3 / len(atoms))
    print(
        f"drift meV/atom/ps: openmm {drift:.4f}, noether md {ours.drift:.4f}; "
        f"fluctuation meV/atom: openmm {fluctuation:.4f}, noether md {ours.fluctuation:.4f}"
    )
    assert ours.stable
    assert abs(drift) <= 2.0 * abs(ours.drift) + 0.5
    assert fluctuation <= 2.0 * ours.fluctuation + 0.05


def test_the_force_survives_copy_and_pickle(models):
    """OpenMM copies forces (createMixedSystem with interpolate=True) through pickle."""
    atoms = build_molecule("ethanol")[1]
    system = MLPotential("noether", model=str(models["molecule.pt2"])).createSystem(
        topology_of(atoms)
    )
    force = next(f for f in system.getForces() if f.getName() == "noether")
    twin = copy.deepcopy(force)  # through pickle: fails for a function that cannot be pickled
    assert twin.getName() == "noether"
    again = openmm.System()
    for _ in atoms:
        again.addParticle(1.0)
    again.addForce(twin)
    energy, _ = openmm_energy_forces(context_of(again), atoms.positions)
    assert energy == pytest.approx(ase_energy_forces(atoms, models["molecule.pt2"])[0], rel=1e-9)


ETHANOL_FF = """<ForceField>
 <AtomTypes>
  <Type name="eth-C" class="CT" element="C" mass="12.011"/>
  <Type name="eth-O" class="OH" element="O" mass="15.999"/>
  <Type name="eth-H" class="HC" element="H" mass="1.008"/>
 </AtomTypes>
 <Residues>
  <Residue name="ETH">%s
  </Residue>
 </Residues>
 <NonbondedForce coulomb14scale="0.8333333333333334" lj14scale="0.5">
  <UseAttributeFromResidue name="charge"/>
  <Atom type="eth-C" sigma="0.35" epsilon="0.276"/>
  <Atom type="eth-O" sigma="0.312" epsilon="0.711"/>
  <Atom type="eth-H" sigma="0.25" epsilon="0.126"/>
 </NonbondedForce>
</ForceField>"""


def ethanol_in_water():
    """Ethanol (OPLS-AA charges, its nonbonded terms only: the ML potential replaces its inner
    terms) solvated by Modeller in TIP3P water, a 2 nm cubic box."""
    import io

    atoms = build_molecule("ethanol")[1]
    distances = atoms.get_all_distances()
    bonds = [
        (i, j)
        for i in range(len(atoms))
        for j in range(i)
        if distances[i, j] < (1.2 if 1 in (atoms.numbers[i], atoms.numbers[j]) else 1.6)
    ]
    neighbours = {
        i: [b for a, b in bonds if a == i] + [a for a, b in bonds if b == i]
        for i in range(len(atoms))
    }
    charges = []
    for i, z in enumerate(atoms.numbers):
        if z == 8:
            charges.append(-0.683)
        elif z == 6:  # the carbon bonded to oxygen is CH2OH
            charges.append(0.145 if any(atoms.numbers[n] == 8 for n in neighbours[i]) else -0.18)
        else:
            charges.append(0.418 if atoms.numbers[neighbours[i][0]] == 8 else 0.06)
    assert abs(sum(charges)) < 1e-9
    kinds = {1: "eth-H", 6: "eth-C", 8: "eth-O"}
    lines = [
        f'\n   <Atom name="A{i}" type="{kinds[int(z)]}" charge="{q}"/>'
        for i, (z, q) in enumerate(zip(atoms.numbers, charges))
    ]
    lines += [f'\n   <Bond atomName1="A{i}" atomName2="A{j}"/>' for i, j in bonds]
    forcefield = app.ForceField("amber14/tip3p.xml", io.StringIO(ETHANOL_FF % "".join(lines)))
    topology = app.Topology()
    residue = topology.addResidue("ETH", topology.addChain())
    made = [
        topology.addAtom(f"A{i}", app.Element.getByAtomicNumber(int(z)), residue)
        for i, z in enumerate(atoms.numbers)
    ]
    for i, j in bonds:
        topology.addBond(made[i], made[j])
    modeller = app.Modeller(topology, (atoms.positions + 10.0) * 0.1 * unit.nanometer)
    modeller.addSolvent(
        forcefield, model="tip3p", boxSize=openmm.Vec3(2.0, 2.0, 2.0) * unit.nanometer
    )
    return forcefield, modeller, list(range(len(atoms)))


def test_a_mixed_system_of_ethanol_in_classical_water_runs(models):
    forcefield, modeller, ligand = ethanol_in_water()
    mm = forcefield.createSystem(
        modeller.topology,
        nonbondedMethod=app.PME,
        nonbondedCutoff=0.8 * unit.nanometer,
        constraints=app.HBonds,
    )
    potential = MLPotential("noether", model=str(models["run"]))
    mixed = potential.createMixedSystem(modeller.topology, mm, ligand, forceGroup=1)
    n_water = modeller.topology.getNumResidues() - 1
    assert n_water > 100 and mixed.getNumParticles() == len(ligand) + 3 * n_water
    integrator = openmm.LangevinMiddleIntegrator(
        300 * unit.kelvin, 1.0 / unit.picosecond, 0.5 * unit.femtosecond
    )
    simulation = app.Simulation(
        modeller.topology, mixed, integrator, openmm.Platform.getPlatformByName("CPU")
    )
    simulation.context.setPositions(modeller.positions)
    simulation.minimizeEnergy(maxIterations=20)
    simulation.step(20)
    state = simulation.context.getState(getEnergy=True, getPositions=True, groups={1})
    ml_energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    positions = state.getPositions(asNumpy=True).value_in_unit(unit.angstrom)[ligand]
    assert np.isfinite(positions).all()
    ethanol = build_molecule("ethanol")[1]
    ethanol.positions = positions
    # the ML group is the model on the ligand alone (the box is 20 Å, the cutoff 3 Å)
    assert ml_energy == pytest.approx(ase_energy_forces(ethanol, models["run"])[0], rel=1e-6)
    total = simulation.context.getState(getEnergy=True).getPotentialEnergy()
    assert np.isfinite(total.value_in_unit(unit.kilojoule_per_mole))


def test_the_entry_point_is_declared_and_resolves():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    target = declared["openmmml.potentials"]["noether"]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name) is NoetherPotentialImplFactory


def test_bad_uses_are_one_clear_error(models, tmp_path):
    with pytest.raises(ValueError, match=r'MLPotential\("noether"\) needs model=: a training run'):
        MLPotential("noether")
    with pytest.raises(TypeError, match=r"unknown options \['precision'\]; accepted: model"):
        MLPotential("noether", model=str(models["run"]), precision="double")
    with pytest.raises(FileNotFoundError, match="no such file"):
        MLPotential("noether", model=str(tmp_path / "none.pt2"))
    topology = app.Topology()
    residue = topology.addResidue("X", topology.addChain())
    topology.addAtom("C", app.Element.getBySymbol("C"), residue)
    topology.addAtom("EP", None, residue)
    with pytest.raises(ValueError, match=r"topology atom 1 \(EP of residue X\) has no element"):
        MLPotential("noether", model=str(models["run"])).createSystem(topology)


def test_the_deploy_page_examples_run(tmp_path, monkeypatch, capsys):
    """docs/deploy.md: its shell and Python blocks, in order, in a folder with runs/ethanol."""
    import re
    import shlex

    from noether.cli import main

    train_tiny_potential(tmp_path / "train")
    (tmp_path / "runs").mkdir()
    (tmp_path / "train" / "run").rename(tmp_path / "runs" / "ethanol")
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.S)
    ran = []
    for kind, code in blocks:
        if kind == "bash":
            for line in code.splitlines():
                words = shlex.split(line, comments=True)
                if words[:1] == ["noether"]:
                    assert main(words[1:]) == 0, line
                    ran.append(words[1])
        else:
            exec(compile(code, "docs/deploy.md", "exec"), {})
            ran.append("python")
    assert ran == ["export", "python", "python"]
    assert (tmp_path / "model.pt2").is_file()
    printed = capsys.readouterr().out
    assert printed.count("kJ/mol") == 2
