import json
import re

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.io import read, write

from noether.atoms.checkpoint import save_potential
from noether.atoms.dataset import AtomsDataset
from noether.atoms.export import export_potential
from noether.atoms.formats import write_dataset
from noether.atoms.reference import LennardJones, Morse
from noether.cli import main


def _argon(tmp_path, repeat=(2, 2, 2)):
    write(tmp_path / "argon.xyz", bulk("Ar", "fcc", a=5.26, cubic=True).repeat(repeat))
    model = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0, dtype=torch.float64)
    save_potential(tmp_path / "lj.pt", model)
    return ["md", "--model", str(tmp_path / "lj.pt"), "--structure", str(tmp_path / "argon.xyz")]


SHORT = ["--steps", "60", "--timestep", "5", "--temperature", "50", "--log-every", "5"]


def test_md_command_runs_a_checkpoint_and_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main([*_argon(tmp_path), *SHORT, "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stable"] and summary["steps"] == 60
    assert abs(summary["drift_meV_per_atom_per_ps"]) < 0.1
    assert len(read(out / "trajectory.xyz", ":")) == 13
    assert (out / "md.png").stat().st_size > 1000
    log = (out / "log.csv").read_text().splitlines()
    assert log[0] == "time_fs,epot_eV,ekin_eV,etot_eV,T_K" and len(log) == 14
    printed = capsys.readouterr().out
    assert re.search(r"total energy drift [+-][\d.e+-]+ meV/atom/ps, fluctuation", printed)
    assert re.search(r"stable: largest bond change [\d.]+ Å, closest approach [\d.]+ Å", printed)


def test_md_command_reports_a_missing_model(tmp_path, capsys):
    code = main(["md", "--model", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err == f"noether md: error: {tmp_path / 'none.pt'}: no such file\n"
    assert not (tmp_path / "o").exists()


def test_md_command_refuses_compile_for_xtb(tmp_path, capsys):
    code = main(["md", "--model", "xtb", "--compile", "--out", str(tmp_path / "o")])
    assert code == 2 and "--compile applies to a noether model" in capsys.readouterr().err


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


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        (
            "--temperature",
            "-300",
            "--temperature -300.0: temperature must be a finite number >= 0 K",
        ),
        ("--temperature", "nan", "--temperature nan: temperature must be a finite number >= 0 K"),
        ("--friction", "-1", "--friction -1.0: friction must be a finite number >= 0 1/fs"),
        ("--timestep", "0", "--timestep 0.0: timestep must be a finite number > 0 fs"),
        ("--steps", "0", "--steps 0: steps must be an integer >= 1"),
        ("--log-every", "-5", "--log-every -5: log_every must be an integer >= 1"),
        ("--time-limit", "-1", "--time-limit -1.0: time_limit must be a number of seconds >= 0"),
        ("--min-distance", "0", "--min-distance 0.0: min_distance must be a finite number > 0 Å"),
    ],
)
def test_md_command_refuses_a_value_out_of_range_naming_it(
    tmp_path, capsys, option, value, accepted
):
    out = tmp_path / "run"
    code = main([*_argon(tmp_path), "--ensemble", "langevin", option, value, "--out", str(out)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and err[-1].startswith(f"noether md: error: {accepted}; got ")
    assert not out.exists()


def test_md_command_passes_an_error_at_step_0_on_as_one_line(tmp_path, capsys):
    # a model exported for molecules, given a periodic crystal: its own message, nothing written
    _argon(tmp_path)
    export_potential(LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0), tmp_path / "lj.pt2")
    out = tmp_path / "run"
    args = ["md", "--model", str(tmp_path / "lj.pt2"), "--structure", str(tmp_path / "argon.xyz")]
    code = main([*args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err == (
        "noether md: error: this model was exported for molecular frames but got "
        "pbc=[True, True, True]; export again with a matching cell\n"
    )


def test_md_command_names_file_and_frame_of_a_structure_with_nan(tmp_path, capsys):
    args = _argon(tmp_path)
    frames = [bulk("Ar", "fcc", a=5.26, cubic=True) for _ in range(3)]
    frames[2].positions[1, 2] = np.nan
    write(tmp_path / "nan.xyz", frames)
    args[-1] = str(tmp_path / "nan.xyz")
    code = main([*args, "--frame", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "run").exists()
    assert err.startswith(f"noether md: error: {tmp_path / 'nan.xyz'}: frame 2, atom 1: positions")


def test_md_command_starts_from_a_frame_of_an_npz_dataset(tmp_path, capsys):
    args = _argon(tmp_path)
    rng = np.random.default_rng(0)
    start = np.array([[0.0, 0, 0], [3.8, 0, 0], [0, 3.8, 0], [0, 0, 3.8]])
    positions = start + rng.normal(0, 0.05, (3, 4, 3))
    ds = AtomsDataset.from_arrays(np.full(4, 18), positions, np.zeros(3), np.zeros((3, 4, 3)))
    write_dataset(tmp_path / "argon.npz", ds)  # sGDML
    args[-1] = str(tmp_path / "argon.npz")
    out = tmp_path / "run"
    code = main([*args, *SHORT, "--frame", "1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    first = read(out / "trajectory.xyz", 0)
    np.testing.assert_allclose(first.positions, positions[1], rtol=0, atol=1e-7)
    assert json.loads((out / "summary.json").read_text())["structure"] == "argon.npz frame 1"
    code = main([*args, "--frame", "3", "--out", str(tmp_path / "other")])
    assert code == 2 and "argon.npz: frame 3 does not exist; the file holds 3 frame(s)" in (
        capsys.readouterr().err
    )


def test_md_command_refuses_to_overwrite_unless_asked(tmp_path, capsys):
    out = tmp_path / "run"
    args = [*_argon(tmp_path), *SHORT, "--out", str(out)]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main([*args, "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"noether md: error: {out} exists and is not empty; pass overwrite=True (--overwrite) to replace it\n"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main([*args, "--seed", "1", "--overwrite"]) == 0
    assert (out / "log.csv").read_bytes() != before["log.csv"]


def test_md_command_refuses_a_run_that_is_not_a_potential(tmp_path, capsys):
    from noether.train.config import load_config
    from noether.train.run import train

    run = tmp_path / "toy"
    config = {
        "seed": 0,
        "model": {"name": "toy-mlp", "hidden": 8, "layers": 1},
        "task": {"name": "toy-regression", "n_samples": 32},
        "data": {"batch_size": 16, "split": [0.5, 0.25, 0.25]},
        "optim": {"name": "adamw", "lr": 0.01},
        "schedule": {"name": "cosine", "warmup_steps": 1},
        "trainer": {"max_epochs": 1, "progress_bar": False, "precision": "32"},
        "run": {"dir": str(run)},
    }
    train(load_config(config))
    capsys.readouterr()
    code = main([*_argon(tmp_path)[:1], "--model", str(run), "--out", str(tmp_path / "md")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and not (tmp_path / "md").exists()
    assert err.startswith(
        f"noether md: error: {run}: the run's model is a ToyMLP, not an atomistic"
    )
    assert "accepted: a noether Potential, a training run of the atoms task" in err


def test_md_help_names_run_folders_and_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["md", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a training run folder (runs/<run>: its best checkpoint)" in text
    for shown in (
        "--temperature X K: the initial Maxwell-Boltzmann velocities and the Langevin bath "
        "(default: 300.0)",
        "--progress, --no-progress",
        "--frame N",
        "--overwrite, --no-overwrite",
        "(default: runs/md)",
    ):
        assert shown in text


def test_md_command_off_a_terminal_prints_plain_progress_lines(tmp_path, capsys):
    assert main([*_argon(tmp_path), *SHORT, "--out", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    assert "\r" not in out + err and "|" not in err
    steps = [line for line in out.splitlines() if line.startswith("  step ")]
    assert len(steps) == 10 and steps[-1].startswith("  step 60/60 (100%): t 0.3 ps, T ")
    assert main([*_argon(tmp_path), *SHORT, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "  step " not in capsys.readouterr().out


def test_md_command_langevin_reports_temperature_not_drift(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*_argon(tmp_path), *SHORT, "--ensemble", "langevin", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "drift" not in printed and "meV/atom/ps" not in printed
    assert re.search(r"temperature [\d.]+ ± [\d.]+ K \(bath 50 K\)", printed)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["drift_meV_per_atom_per_ps"] is None and summary["std_temperature_K"] > 0


def test_md_command_failing_mid_way_keeps_the_log_and_says_where(tmp_path, capsys):
    # a Morse dimer squeezed to 0.3 Å flies apart: its bond breaks after a few steps
    write(tmp_path / "h2.xyz", Atoms("H2", positions=[[0, 0, 0], [0.3, 0, 0]]))
    save_potential(tmp_path / "morse.pt", Morse(epsilon=4.5, r0=0.74, rho0=1.5, dtype="float64"))
    out = tmp_path / "run"
    args = ["md", "--model", str(tmp_path / "morse.pt"), "--structure", str(tmp_path / "h2.xyz")]
    limits = ["--min-distance", "0.2", "--max-bond-stretch", "0.5"]
    code = main([*args, *limits, "--temperature", "0", "--log-every", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert code == 1 and not summary["stable"] and summary["failure_step"] > 0
    frames = summary["logged_frames"]
    assert frames == len(read(out / "trajectory.xyz", ":")) > 1
    assert len((out / "log.csv").read_text().splitlines()) == frames + 1
    assert (
        f"UNSTABLE at step {summary['failure_step']} ({summary['failure_time_fs']:g} fs): bond 0-1"
        in printed
    )
    assert f"the {frames} frames logged up to there are kept" in printed
