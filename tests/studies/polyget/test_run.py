import json

import pytest

pytest.importorskip("tblite")

from noether.cli import main


@pytest.mark.slow
def test_quick_study_end_to_end_on_tiny_xtb_data(tmp_path, capsys):
    data = tmp_path / "poly"
    args = ["data", "polymers", "--families", "pe,pvc", "--lengths", "1,2", "--frames", "12,3"]
    args += ["--temperatures", "300", "--equilibration", "4", "--stride", "2", "--workers", "1"]
    assert main([*args, "--out", str(data)]) == 0
    out = tmp_path / "study"
    study = ["study", "polyget", "--preset", "quick", "--data", str(data / "polymers.h5")]
    study += ["--out", str(out), "--held-out", "pvc", "--train-units", "1", "--long-units", "2"]
    study += ["--md-temperatures", "300", "--workers", "0"]
    assert main(study) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["forces"]) == {"force-only", "joint"}
    assert set(results["forces"]["joint"]["unseen"]) == {"pvc"}
    assert set(results["forces"]["joint"]["long"]) == {"pe"}
    assert len(results["md"]) == 4 and {r["family"] for r in results["md"]} == {"pe", "pvc"}
    for r in results["md"]:
        assert r["time_ps"] > 0 and (r["stable"] or r["failure"])
    for name in ("table.md", "forces.png", "md.png", "structure.png"):
        assert (out / name).stat().st_size > 0
    assert "| force-only |" in (out / "table.md").read_text()
    capsys.readouterr()
    assert main(study) == 0  # a rerun reuses the trainings and MD runs
    assert "trained force-only" in capsys.readouterr().out
    assert main([*study[:-2], "--held-out", "nope"]) == 2
    # other settings on the same folder: refused, nothing changed; --overwrite trains again
    tree = _tree(out)
    assert main([*study, "--steps", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{out}/runs/force-only was trained with other settings (" in err and " -> " in err
    assert _tree(out) == tree
    assert main([*study, "--steps", "3", "--overwrite"]) == 0


def _tree(folder):
    """Every file under ``folder`` with its bytes' hash."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
