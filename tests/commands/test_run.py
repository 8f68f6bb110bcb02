"""`noether run`, the main job, end to end on a tiny dataset and tiny models."""

import re

import pytest

from noether.cli import main


def test_the_main_job_trains_both_models_and_reports(placed_nbody_dir, tmp_path, capsys):
    out = tmp_path / "quick"
    argv = ["run", "--data", placed_nbody_dir, "--out", str(out), "--steps", "4", "--size", "16"]
    assert main([*argv, "--width", "tiny", "--workers", "0", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()

    def row(label: str) -> list[str]:
        """The values of the row ``label``: one ``median [seed values]`` or number per model."""
        line = next(line for line in lines if line.strip().startswith(label + "  "))
        return line.strip()[len(label) :].split()

    assert "iPGA-GATr" in printed and "Transformer (params)" in printed
    assert all(int(v.replace(",", "")) > 0 for v in row("parameters"))
    assert all(float(v.rstrip("k")) > 0 for v in row("training FLOPs / token"))
    for name in ("test", "rotated", "translated by 20 (unseen)", "more bodies (unseen)"):
        text = " ".join(row(name))  # per model: the median, then "[" every seed "]"
        medians = [float(v) for v in re.sub(r"\[[^]]*\]", " ", text).split()]
        seeds = [[float(v) for v in group.split()] for group in re.findall(r"\[([^]]*)\]", text)]
        assert len(medians) == 2 and all(m > 0 for m in medians)
        assert [len(s) for s in seeds] == [3, 3]
        assert medians == [pytest.approx(sorted(s)[1], rel=0.05) for s in seeds]  # 2 digits
    gatr, transformer = (float(v) for v in row("translation"))
    assert gatr < 1e-9 < transformer  # iPGA-GATr is exactly translation-equivariant
    assert all(float(v) >= 0 for v in row("rotation") + row("reflection"))
    assert "What this run can conclude:" in printed and "What it cannot conclude:" in printed
    plot = next(line.split()[1] for line in printed.splitlines() if line.startswith("plot:"))
    assert plot == str(out / "sample_efficiency.png") and (out / plot).stat().st_size > 0
    assert (out / "results.md").read_text().strip()


def test_the_main_job_refuses_bad_settings(capsys):
    assert main(["run", "--steps", "0", "--no-progress"]) == 2
    assert "steps" in capsys.readouterr().err
