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


def test_export_target_lammps_writes_the_mliap_model(tmp_path, capsys):
    from ase.build import bulk
    from ase.io import write

    from noether.atoms.lammps import load_lammps
    from noether.atoms.models.et import ET

    torch.manual_seed(0)
    model = ET(hidden=16, heads=2, layers=1, num_rbf=8, cutoff=3.0, dtype=torch.float64)
    save_potential(tmp_path / "et.pt", model)
    write(tmp_path / "cu.xyz", bulk("Cu", "fcc", a=3.6, cubic=True))
    out = tmp_path / "cu.mliap.pkl"
    args = ["export", str(tmp_path / "et.pt"), str(out), "--target", "lammps"]
    assert main([*args, "--structure", str(tmp_path / "cu.xyz"), "--elements", "Cu"]) == 0
    printed = capsys.readouterr().out
    assert "pair cutoff 6 Å = 2 hops x 3 Å" in printed and "check on 4 atoms" in printed
    assert load_lammps(out).element_types == ["Cu"]
    assert main([*args, "--elements", "H,Xx", "--overwrite"]) == 2
    assert "Xx" in capsys.readouterr().err
    assert (
        main(["export", str(tmp_path / "et.pt"), str(tmp_path / "m.pt"), "--target", "lammps"]) == 2
    )
    assert ".pt/.pth" in capsys.readouterr().err
