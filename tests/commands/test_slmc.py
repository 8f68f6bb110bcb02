"""`noether slmc`: clear option names (old --t/--T kept with a deprecation line), progress
lines instead of bars when not on a terminal, and no silent overwrite."""

from __future__ import annotations

import pytest
import torch

from noether.cli import main

TINY = ["--L", "3", "--J", "4", "--mu", "-2", "--max-layers", "0", "--chains", "2",
        "--ref-sweeps", "6", "--train-steps", "2", "--slmc-steps", "4", "--scan-sweeps", "4",
        "--temperatures", ""]  # fmt: skip


@pytest.fixture(autouse=True)
def _keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_help_shows_clear_names_and_hides_the_old_ones(capsys):
    with pytest.raises(SystemExit):
        main(["slmc", "--help"])
    out = capsys.readouterr().out
    assert "--hopping X" in out and "--temperature X" in out and "--no-progress" in out
    assert "--t " not in out and "--T " not in out
    assert "(default: 0.03)" in out and "(default: 1.0)" in out


@pytest.mark.parametrize(
    ("old", "new", "value", "refusal"),
    [("--T", "--temperature", "0", "got T=0.0"), ("--t", "--hopping", "nan", "t must be")],
)
def test_old_spellings_still_work_with_one_deprecation_line(
    tmp_path, capsys, old, new, value, refusal
):
    assert main(["slmc", old, value, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"noether slmc: warning: {old} is deprecated; use {new}") == 1
    assert refusal in err  # the value reached the model, which refuses it
    assert not (tmp_path / "out").exists()


def test_progress_lines_refusal_and_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["slmc", *TINY, "--temperature", "0.2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert any(line.startswith("reference T=0.2 ") and "(100%)" in line for line in err.split("\n"))
    table = (out / "table.md").read_text()
    assert main(["slmc", *TINY, "--temperature", "0.3", "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "table.md").read_text() == table
    argv = ["slmc", *TINY, "--temperature", "0.3", "--out", str(out), "--overwrite"]
    assert main([*argv, "--no-progress"]) == 0
    assert "reference T=" not in capsys.readouterr().err
    assert (out / "table.md").read_text() != table
