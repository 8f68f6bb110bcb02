import json

import torch
from ase.build import bulk
from ase.io import read, write

from noether.atoms.checkpoint import save_potential
from noether.atoms.reference import LennardJones
from noether.cli import main


def test_md_command_runs_a_checkpoint_and_writes_its_outputs(tmp_path, capsys):
    write(tmp_path / "argon.xyz", bulk("Ar", "fcc", a=5.26, cubic=True).repeat((2, 2, 2)))
    model = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0, dtype=torch.float64)
    save_potential(tmp_path / "lj.pt", model)
    out = tmp_path / "run"
    code = main(
        [
            "md",
            "--model",
            str(tmp_path / "lj.pt"),
            "--structure",
            str(tmp_path / "argon.xyz"),
            "--steps",
            "60",
            "--timestep",
            "5",
            "--temperature",
            "50",
            "--log-every",
            "5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stable"] and summary["steps"] == 60
    assert abs(summary["drift_meV_per_atom_per_ps"]) < 0.1
    assert len(read(out / "trajectory.xyz", ":")) == 13
    assert (out / "md.png").stat().st_size > 1000 and (out / "log.csv").exists()
    assert "meV/atom/ps; stable" in capsys.readouterr().out


def test_md_command_reports_a_missing_model(tmp_path, capsys):
    code = main(["md", "--model", str(tmp_path / "none.pt"), "--out", str(tmp_path)])
    assert code == 2 and "none.pt: no such file" in capsys.readouterr().out


def test_md_command_refuses_compile_for_xtb(tmp_path, capsys):
    code = main(["md", "--model", "xtb", "--compile", "--out", str(tmp_path)])
    assert code == 2 and "--compile applies to a noether model" in capsys.readouterr().out


def test_md_command_compile_hands_the_model_to_compile_inference(tmp_path, monkeypatch, capsys):
    from noether.atoms.potential import Potential

    compiled = []
    monkeypatch.setattr(Potential, "compile_inference", lambda self: compiled.append(self) or self)
    write(tmp_path / "argon.xyz", bulk("Ar", "fcc", a=5.26, cubic=True))
    save_potential(tmp_path / "lj.pt", LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0))
    args = ["md", "--model", str(tmp_path / "lj.pt"), "--structure", str(tmp_path / "argon.xyz")]
    code = main(
        [*args, "--steps", "4", "--log-every", "1", "--compile", "--out", str(tmp_path / "run")]
    )
    assert code == 0 and len(compiled) == 1 and isinstance(compiled[0], LennardJones)
