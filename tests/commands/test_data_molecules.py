import json

import numpy as np
import pytest

pytest.importorskip("tblite")

from noether.atoms.formats import read_dataset
from noether.atoms.splits import load_splits
from noether.cli import main

ARGS = ["--frames", "8", "--stride", "2", "--equilibration", "4", "--temperatures", "300,500"]


def test_data_molecules_writes_sets_splits_and_plots(tmp_path, capsys):
    out = tmp_path / "mols"
    code = main(
        [
            "data",
            "molecules",
            "--molecules",
            "ethanol,water:O",
            *ARGS,
            "--workers",
            "1",
            "--format",
            "hdf5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [m["name"] for m in summary["molecules"]] == ["ethanol", "water"]
    water = read_dataset(out / "water.h5")
    assert len(water) == 8 and water.n_atoms[0] == 3
    splits = load_splits(out / "water_splits.npz", n_frames=8)
    assert sum(len(v) for v in splits.values()) == 8
    assert (out / "summary.png").stat().st_size > 1000
    assert "16 frames in" in capsys.readouterr().out


def test_bad_molecule_is_a_clear_error(tmp_path, capsys):
    code = main(["data", "molecules", "--molecules", "ethanol,xx(", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--molecules ethanol,xx(" in err and "unknown molecule 'xx('" in err


@pytest.mark.slow
def test_workers_do_not_change_the_data(tmp_path):
    for workers in (1, 2):
        main(
            [
                "data",
                "molecules",
                "--molecules",
                "ethanol,benzene",
                *ARGS,
                "--workers",
                str(workers),
                "--out",
                str(tmp_path / str(workers)),
            ]
        )
    for name in ("ethanol", "benzene"):
        a = read_dataset(tmp_path / "1" / f"{name}.xyz")
        b = read_dataset(tmp_path / "2" / f"{name}.xyz")
        np.testing.assert_array_equal(a.energy, b.energy)


def _run(*argv: str):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import noether

    env = {**os.environ, "PYTHONPATH": str(Path(noether.__file__).parents[1])}
    command = [sys.executable, "-m", "noether.cli", "data", "molecules", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def test_data_molecules_progress_lines_and_no_silent_overwrite(tmp_path):
    out = tmp_path / "mols"
    argv = ["--molecules", "water:O", *ARGS, "--workers", "1", "--out", str(out)]
    first = _run(*argv)
    assert first.returncode == 0, first.stderr
    assert "\r" not in first.stderr  # a pipe gets plain lines, not a redrawn bar
    assert any(line.startswith("water 8/8 (100%) ") for line in first.stderr.splitlines())
    before = (out / "water.xyz").read_bytes()
    refused = _run(*argv, "--seed", "1")
    assert refused.returncode == 2
    assert "already exists; pass --overwrite" in refused.stderr
    assert (out / "water.xyz").read_bytes() == before
    again = _run(*argv, "--seed", "1", "--overwrite", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "water 8/8" not in again.stderr
    assert (out / "water.xyz").read_bytes() != before
