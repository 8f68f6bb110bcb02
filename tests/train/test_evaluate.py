"""A run folder travels: loading its model needs only the folder; evaluating it finds its data
from any folder while the data stays where it was."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "atoms"))
from atoms_testkit import train_tiny_potential

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.molecules import build_molecule
from noether.cli import main
from noether.core.checkpoints import load_trained_model
from noether.train.evaluate import evaluate


@pytest.fixture
def trained(tmp_path, monkeypatch):
    """A run trained in ``tmp_path/project`` on ``ethanol.xyz``, named by a relative path."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    run = train_tiny_potential(project, data="ethanol.xyz")
    assert json.loads((run / "meta.json").read_text())["cwd"] == str(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project, run, elsewhere


def test_evaluate_from_another_folder_finds_the_data_where_the_run_was_trained(trained, capsys):
    _, run, elsewhere = trained
    results = evaluate(run, out=elsewhere / "eval", plots=False, verbose=False)
    assert results["samples"] > 0 and results["energy_mae"] > 0
    assert main(["evaluate", str(run), "--out", "ev", "--no-plots"]) == 0
    assert (elsewhere / "ev" / "test_metrics.json").is_file()


def test_a_copied_run_loads_everywhere_without_its_data(trained, capsys):
    project, run, elsewhere = trained
    moved = elsewhere / "moved"
    shutil.copytree(run, moved)
    shutil.rmtree(run)
    (project / "ethanol.xyz").unlink()  # the data are gone

    model = load_trained_model(moved)
    ethanol = build_molecule("ethanol")[1]
    ethanol.calc = NoetherCalculator(moved)
    energy = ethanol.get_potential_energy()
    out = model(torch.tensor(ethanol.numbers), torch.tensor(ethanol.positions))
    assert energy == pytest.approx(float(out["energy"]), rel=1e-12)

    assert main(["export", str(moved), "m.pt2"]) == 0
    ethanol.calc = NoetherCalculator("m.pt2")
    assert ethanol.get_potential_energy() == pytest.approx(energy, rel=1e-9)
    assert main(["md", "--model", str(moved), "--steps", "4", "--log-every", "2"]) == 0
    assert (elsewhere / "runs" / "md" / "summary.json").is_file()

    openmmml = pytest.importorskip("openmmml")
    from openmm import app

    from noether.atoms.openmm_ml import NoetherPotentialImplFactory

    openmmml.MLPotential.registerImplFactory("noether", NoetherPotentialImplFactory())
    topology = app.Topology()
    residue = topology.addResidue("ETH", topology.addChain())
    for z in ethanol.numbers:
        topology.addAtom("X", app.Element.getByAtomicNumber(int(z)), residue)
    system = openmmml.MLPotential("noether", model=str(moved)).createSystem(topology)
    assert system.getNumParticles() == len(ethanol)

    capsys.readouterr()
    assert main(["evaluate", str(moved), "--no-plots"]) == 2  # evaluating needs the data
    err = capsys.readouterr().err.strip()
    assert err.startswith("noether evaluate: error: ") and "\n" not in err
    assert "task.path" in err and "ethanol.xyz" in err
