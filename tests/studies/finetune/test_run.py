"""`noether study finetune` end to end on tiny Morse-labelled molecules: source run, three arms,
the table and figure, reuse, continuation and the refusal of other settings."""

import hashlib
import json

from atoms_testkit import morse_frames

from noether.cli import main


def _tree(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_quick_study_end_to_end(tmp_path, capsys):
    a = morse_frames(tmp_path / "a.h5", [6, 8, 1, 1], 16, 0)
    b = morse_frames(tmp_path / "b.h5", [6, 6, 1, 1, 1], 16, 1)
    new = morse_frames(tmp_path / "new.h5", [6, 7, 1, 1], 24, 2)
    test = morse_frames(tmp_path / "test.h5", [6, 7, 1, 1], 10, 3)
    out = tmp_path / "study"
    study = ["study", "finetune", "--source", a, b, "--new", new, "--test", test]
    study += ["--out", str(out), "--frames", "12", "--val-frames", "4", "--seeds", "0", "1"]
    study += ["--hidden", "8", "--heads", "2", "--num-rbf", "4", "--source-steps", "6"]
    study += ["--steps", "4", "--batch-size", "4", "--workers", "0"]
    study += ["--arms", "scratch", "finetune", "finetune-frozen"]
    assert main(study) == 0
    results = json.loads((out / "results.json").read_text())
    assert {(r["arm"], r["seed"]) for r in results["runs"]} == {
        (arm, seed) for arm in ("scratch", "finetune", "finetune-frozen") for seed in (0, 1)
    }
    for run in results["runs"]:
        assert run["test"]["test_frames"] == 10 and run["test"]["force_mae"] > 0
    assert results["source_before_finetuning"]["force_mae"] > 0
    table = (out / "table.md").read_text()
    assert "| finetune | 0.0003 |" in table and "| source, not fine-tuned |" in table
    assert (out / "finetune.png").stat().st_size > 0
    # the fine-tuned runs started from the source: nitrogen's rows logged, frozen weights named
    log = (out / "runs" / "finetune-frozen-seed0.log").read_text()
    assert "new elements N" in log and "frozen: embedding, neighbor_embedding, layers.0" in log

    # a rerun reuses every run; a run without its result is continued, not trained again
    first = {(r["arm"], r["seed"]): r["test"] for r in results["runs"]}
    (out / "runs" / "finetune-seed1" / "result.json").unlink()
    capsys.readouterr()
    assert main(study) == 0
    again = json.loads((out / "results.json").read_text())
    assert {(r["arm"], r["seed"]): r["test"] for r in again["runs"]} == first
    resumed = [r for r in again["runs"] if r["resumed"]]
    assert [(r["arm"], r["seed"]) for r in resumed] == [("finetune", 1)]

    # other settings on the same folder: refused with nothing changed
    tree = _tree(out)
    assert main([*study, "--finetune-lr", "1e-4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "finetune-seed0 was trained with other settings (optim.lr 0.0003 -> 0.0001)" in err
    assert _tree(out) == tree
