"""`noether run`, the main job, end to end at a tiny scale (the real default takes minutes)."""

import pytest

from noether.cli import main
from noether.sims.nbody import NBodyConfig
from noether.sims.nbody_dataset import NBodySizes, generate_dataset, write_dataset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    sizes = NBodySizes(train=16, val=8, test=16, more_bodies=4, more_planets=4)
    splits, meta = generate_dataset(NBodyConfig(max_level=4), sizes, seed=1, progress=False)
    return str(write_dataset(tmp_path_factory.mktemp("run") / "data", splits, meta))


def test_run_trains_both_models_and_prints_errors_side_by_side(tiny_data, tmp_path, capsys):
    pytest.importorskip("noether.gatr")
    argv = ["run", "--data", tiny_data, "--out", str(tmp_path / "out"), "--steps", "4"]
    argv += ["--size", "16", "--width", "tiny", "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "iPGA-GATr" in out and "Transformer" in out
    for row in ("test rotated", "test translated", "test more bodies", "rotation", "reflection"):
        assert row in out
    assert (tmp_path / "out" / "sample_efficiency.png").is_file()
    assert "plot:" in out


def test_run_refuses_impossible_settings(capsys):
    assert main(["run", "--steps", "0"]) == 2
    assert "steps" in capsys.readouterr().err
