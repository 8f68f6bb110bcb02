import torch

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.checkpoint import save_potential
from noether.atoms.molecules import build_molecule
from noether.atoms.reference import Morse
from noether.cli import main


def test_export_command_writes_a_file_the_calculator_loads(tmp_path, capsys):
    save_potential(tmp_path / "m.pt", Morse(epsilon=0.2, r0=1.3, rho0=4.0, dtype=torch.float64))
    assert main(["export", str(tmp_path / "m.pt"), str(tmp_path / "m.pt2")]) == 0
    assert "check on 9 atoms" in capsys.readouterr().out
    atoms = build_molecule("ethanol")[1]
    atoms.calc = NoetherCalculator(tmp_path / "m.pt2")
    exported = atoms.get_potential_energy()
    atoms.calc = NoetherCalculator(tmp_path / "m.pt")
    assert abs(exported - atoms.get_potential_energy()) < 1e-10


def test_export_command_reports_a_missing_model(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.pt"), str(tmp_path / "x.pt2")]) == 2
    assert "noether export: error: " in capsys.readouterr().err
