"""benchmarks/summarize_et_training.py reads bench_et_training's run folders (with and without the
``meta`` entry), averages each code over its seeds and draws both figures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "summarize_et_training.py"


@pytest.fixture(scope="module")
def summary():
    spec = importlib.util.spec_from_file_location("summarize_et_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(folder: Path, code: str, seed: int, force_mae: float, meta: bool) -> None:
    folder.mkdir(parents=True)
    results = {code: {"forces_mae_meV_per_A": force_mae, "energy_mae_meV": 1.0}}
    if meta:
        results["meta"] = {"data": "data/molecules/ethanol.xyz", "train_seed": seed, "epochs": 3}
    else:
        (folder / "torchmdnet.yaml").write_text(f"seed: {seed}\n")
    (folder / "results.json").write_text(json.dumps(results))
    run = folder / code
    run.mkdir()
    if code == "noether":
        rows = ["step,epoch,val/forces_mae", *(f"{e},{e},{force_mae + 3 - e}" for e in range(3))]
    else:
        rows = [
            "epoch,step,val_neg_dy_l1_loss",
            *(f"{e},{e},{(force_mae + 3 - e) / 1e3}" for e in range(3)),
        ]
    (run / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_summary_of_seeds(summary, tmp_path):
    ours, peer = [20.0, 22.0, 21.0], [25.0, 24.0, 26.0]
    for seed, (a, b) in enumerate(zip(ours, peer, strict=True)):
        write_run(tmp_path / f"ethanol-s{seed}-noether", "noether", seed, a, meta=seed > 0)
        write_run(tmp_path / f"ethanol-s{seed}-torchmdnet", "torchmdnet", seed, b, meta=False)
    folders = sorted(tmp_path.iterdir())
    table = summary.collect(folders)
    assert table["ethanol"]["noether"] == {0: 20.0, 1: 22.0, 2: 21.0}
    assert table["ethanol"]["torchmdnet"] == {0: 25.0, 1: 24.0, 2: 26.0}
    s = summary.summarise(table["ethanol"])
    assert s["mean_ours"] == pytest.approx(21.0) and s["mean_peer"] == pytest.approx(25.0)
    assert s["se_ours"] == pytest.approx(np.std(ours, ddof=1) / np.sqrt(3))
    assert s["ratio"] == pytest.approx(21.0 / 25.0 - 1.0)
    assert (s["n_paired"], s["ours_wins"], s["mean_diff"]) == (3, 3, pytest.approx(-4.0))
    assert s["p_worse"] > 0.99  # ours is clearly better, so "ours worse" is rejected
    flipped = summary.summarise(
        {"noether": table["ethanol"]["torchmdnet"], "torchmdnet": table["ethanol"]["noether"]}
    )
    assert flipped["p_worse"] < 0.01
    np.testing.assert_allclose(summary.validation_curve(folders[0], "noether"), [23.0, 22.0, 21.0])
    np.testing.assert_allclose(
        summary.validation_curve(folders[-1], "torchmdnet"), [29.0, 28.0, 27.0]
    )
    summary.plot(table, tmp_path / "out" / "seeds.png")
    summary.plot_curves(folders, tmp_path / "out" / "curves.png")
    for name in ("seeds.png", "curves.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == b"\x89PNG"


def test_folder_without_meta_or_seed_pattern_is_refused(summary, tmp_path):
    folder = tmp_path / "ethanol"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"noether": {"forces_mae_meV_per_A": 1.0}}))
    (folder / "torchmdnet.yaml").write_text("seed: 0\n")
    with pytest.raises(SystemExit, match="<molecule>-s<seed>"):
        summary.read_run(folder)
