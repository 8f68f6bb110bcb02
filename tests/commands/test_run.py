"""`noether run`, the main job, end to end on a tiny dataset and tiny models."""

from noether.cli import main


def test_the_main_job_trains_both_models_and_reports(nbody_dir, tmp_path, capsys):
    out = tmp_path / "quick"
    argv = ["run", "--data", nbody_dir, "--out", str(out), "--steps", "4", "--size", "16"]
    assert main([*argv, "--width", "tiny", "--workers", "0", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for expected in ("iPGA-GATr", "Transformer", "test rotated", "rotation", "parameters"):
        assert expected in printed
    # label, then one value per model: the test errors side by side, the equivariance errors
    rows = {" ".join(w[:-2]): w[-2:] for w in map(str.split, printed.splitlines()) if len(w) > 2}
    for name in ("test", "test rotated", "test translated", "test more bodies"):
        assert all(float(v) > 0 for v in rows[name])
    gatr, transformer = (float(v) for v in rows["translation"])
    assert gatr < 1e-9 < transformer  # iPGA-GATr is exactly translation-equivariant
    assert all(float(v) >= 0 for v in rows["rotation"] + rows["reflection"])
    plot = next(line.split()[1] for line in printed.splitlines() if line.startswith("plot:"))
    assert plot == str(out / "sample_efficiency.png") and (out / plot).stat().st_size > 0
    assert (out / "results.md").read_text().strip()


def test_the_main_job_refuses_bad_settings(capsys):
    assert main(["run", "--steps", "0", "--no-progress"]) == 2
    assert "steps" in capsys.readouterr().err
