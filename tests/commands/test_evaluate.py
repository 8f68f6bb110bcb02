"""`noether evaluate --energy-unit/--force-unit` on a real (tiny) training of the atomistic task."""

import json

import numpy as np
import pytest
import torch
import yaml
from ase import units

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats import write_dataset
from noether.atoms.reference import Morse
from noether.cli import main
from noether.train.run import train

KCAL_PER_EV = units.mol / units.kcal  # 23.0605 kcal/mol per eV (ase.units, CODATA 2014)
KJ_PER_EV = units.mol / units.kJ  # 96.485 kJ/mol per eV


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two epochs of a learnable Morse potential on 24 Morse-labelled 4-atom clusters."""
    root = tmp_path_factory.mktemp("morse")
    truth = Morse(epsilon=0.5, r0=1.6, rho0=3.5, dtype=torch.float64).eval()
    rng = np.random.default_rng(0)
    z = np.array([6, 1, 1, 8])
    pos = np.stack([rng.normal(scale=1.4, size=(4, 3)) for _ in range(24)])
    labels = [truth(torch.tensor(z), torch.tensor(p)) for p in pos]
    energy = np.array([out["energy"].item() for out in labels])
    forces = np.stack([out["forces"].numpy() for out in labels])
    write_dataset(root / "d.xyz", AtomsDataset.from_arrays(z, pos, energy, forces))
    config = {
        "seed": 0,
        "model": {"name": "morse", "epsilon": 0.3, "r0": 1.5, "rho0": 3.0, "learnable": True},
        "task": {"name": "atoms", "path": str(root / "d.xyz"), "standardize": False},
        "data": {"batch_size": 8},
        "trainer": {"max_epochs": 2, "precision": "64", "progress_bar": False},
        "run": {"dir": str(root / "run")},
    }
    (root / "morse.yaml").write_text(yaml.safe_dump(config))
    return train(str(root / "morse.yaml"))


def _evaluate(run, out, *options):
    assert main(["evaluate", str(run), "--out", str(out), "--no-plots", *options]) == 0
    return json.loads((out / "test_metrics.json").read_text())


def test_default_units_are_meV_and_named_in_the_json(run, tmp_path, capsys):
    saved = _evaluate(run, tmp_path)
    assert saved["units"] == {"energy": "meV", "forces": "meV/Å"}
    table = capsys.readouterr().out
    assert any(line.startswith("energy") and line.endswith("  meV") for line in table.splitlines())


def test_energy_unit_converts_table_json_and_picks_the_force_unit(run, tmp_path, capsys):
    mev = _evaluate(run, tmp_path / "meV")
    capsys.readouterr()
    kcal = _evaluate(run, tmp_path / "kcal", "--energy-unit", "kcal/mol")
    assert KCAL_PER_EV == pytest.approx(23.0605, rel=1e-5)
    assert kcal["units"] == {"energy": "kcal/mol", "forces": "kcal/mol/Å"}
    for key in ("energy_mae", "energy_rmse", "forces_mae", "forces_rmse"):
        assert kcal[key] == pytest.approx(mev[key] * 1e-3 * KCAL_PER_EV, rel=1e-12)
    assert kcal["loss"] == mev["loss"]  # the loss has no unit and stays as trained
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["energy"][-1] == "kcal/mol" and rows["forces"][-1] == "kcal/mol/Å"
    assert float(rows["forces"][1]) == pytest.approx(kcal["forces_mae"], rel=1e-3)


def test_force_unit_on_its_own_and_spellings(run, tmp_path):
    mev = _evaluate(run, tmp_path / "meV")
    mixed = _evaluate(run, tmp_path / "x", "--energy-unit", "EV", "--force-unit", "kj/mol/A")
    assert mixed["units"] == {"energy": "eV", "forces": "kJ/mol/Å"}
    assert mixed["energy_mae"] == pytest.approx(mev["energy_mae"] * 1e-3, rel=1e-12)
    assert mixed["forces_mae"] == pytest.approx(mev["forces_mae"] * 1e-3 * KJ_PER_EV, rel=1e-12)
    forces_only = _evaluate(run, tmp_path / "f", "--force-unit", "eV/Å")
    assert forces_only["units"] == {"energy": "meV", "forces": "eV/Å"}
    assert forces_only["energy_mae"] == pytest.approx(mev["energy_mae"], rel=1e-12)


def test_parity_plots_are_drawn_in_the_chosen_unit(run, tmp_path):
    assert main(["evaluate", str(run), "--out", str(tmp_path), "--energy-unit", "kJ/mol"]) == 0
    assert (tmp_path / "test_parity_forces.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("--energy-unit", "kcal", "meV, eV, kcal/mol, kJ/mol"),
        ("--energy-unit", "Hartree", "meV, eV, kcal/mol, kJ/mol"),
        ("--force-unit", "kcal/mol", "meV/Å, eV/Å, kcal/mol/Å, kJ/mol/Å"),
    ],
)
def test_a_unit_not_accepted_is_one_line_and_status_2(
    run, tmp_path, capsys, option, value, accepted
):
    assert main(["evaluate", str(run), "--out", str(tmp_path / "e"), option, value]) == 2
    err = capsys.readouterr().err
    assert err == f"noether evaluate: error: {option} {value!r}: accepted: {accepted}\n"
    assert not (tmp_path / "e").exists()
