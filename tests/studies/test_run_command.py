"""`noether run`, the main job, end to end on a tiny dataset and tiny models."""

from noether.cli import main


def test_the_main_job_trains_both_models_and_reports(nbody_dir, tmp_path, capsys):
    out = tmp_path / "quick"
    argv = ["run", "--data", nbody_dir, "--out", str(out), "--steps", "4", "--size", "16"]
    assert main([*argv, "--width", "tiny", "--workers", "0", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    for expected in ("iPGA-GATr", "Transformer", "test rotated", "rotation", "parameters"):
        assert expected in printed
    assert (out / "sample_efficiency.png").stat().st_size > 0
    assert (out / "results.md").read_text().strip()


def test_the_main_job_refuses_bad_settings(capsys):
    assert main(["run", "--steps", "0", "--no-progress"]) == 2
    assert "steps" in capsys.readouterr().err
