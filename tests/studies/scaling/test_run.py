"""The sweep: bad specs are refused before any run; chains continue exactly and resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from noether.cli import main as cli
from noether.studies.scaling.plan import SweepSpec, load_spec, plan

TINY = {
    "gatr_sizes": {
        "a": {"mv_channels": 2, "s_channels": 4, "blocks": 1, "heads": 1},
        "b": {"mv_channels": 4, "s_channels": 4, "blocks": 1, "heads": 1},
    },
    "transformer_sizes": {
        "a": {"channels": 8, "blocks": 1, "heads": 2},
        "b": {"channels": 16, "blocks": 1, "heads": 2},
    },
    "steps": [3, 6],
    "grid_scenes": 10,
    "data_scenes": [4, 10],
    "data_size": "a",
    "batch_size": 8,
    "warmup_steps": 1,
    "val_scenes": 4,
    "test_scenes": 4,
}


def test_plan_covers_grid_and_data_sweep_once():
    spec = load_spec("small", None, **TINY)
    chains = plan(spec)
    points = [p.name for c in chains for p in c.points]
    assert len(points) == len(set(points))
    # 3 families x (2 sizes x 2 steps + 1 extra data size)
    assert len(points) == 3 * (2 * 2 + 1)
    assert {c.steps for c in chains} == {(3, 6), (6,)}


def test_default_sweep_has_four_values_of_each_axis():
    spec = load_spec("small")
    assert len(spec.steps) >= 4 and len(spec.data_scenes) >= 4
    assert len(spec.gatr_sizes) >= 4 and len(spec.transformer_sizes) >= 4
    assert set(spec.families) == {"gatr", "transformer", "transformer-aug"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"families": ["gatr", "mlp"]}, "families: unknown"),
        ({"steps": []}, "steps: got"),
        ({"data_scenes": [100]}, "at least two"),
        ({"transformer_sizes": {}}, "transformer_sizes"),
        ({"data_size": "zz"}, "data_size"),
        ({"colour": 3}, "unknown sweep field"),
    ],
)
def test_bad_specs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        load_spec("small", None, **{**TINY, **change})


def test_command_refuses_a_bad_spec_before_running(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("families: [gatr, resnet]\n")
    assert cli(["scaling", "--out", str(tmp_path / "sweep"), "--spec", str(spec)]) == 2
    assert "families: unknown" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_command_refuses_a_model_size_the_model_rejects_before_making_data(tmp_path, capsys):
    import yaml

    sizes = {**TINY["gatr_sizes"], "b": {**TINY["gatr_sizes"]["b"], "colour": 3}}
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**TINY, "gatr_sizes": sizes}))
    assert cli(["scaling", "--out", str(tmp_path / "sweep"), "--spec", str(spec)]) == 2
    assert "gatr size 'b'" in capsys.readouterr().err
    assert not (tmp_path / "sweep" / "data").exists()
    assert not (tmp_path / "sweep" / "runs").exists()


def test_fit_only_without_a_sweep_is_refused(tmp_path, capsys):
    assert cli(["scaling", "--out", str(tmp_path / "none"), "--fit-only"]) == 2
    assert "no sweep to fit" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()  # no data made for nothing


def test_command_dry_run_lists_the_points(capsys):
    assert cli(["scaling", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "57 points" in out and "gatr-l-n1600: steps [100, 200, 400, 800]" in out


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, rigid_data):
    from noether.studies.scaling.run import prepare
    from noether.studies.scaling.runner import run_chain

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sweep")
    spec = load_spec("small", None, **TINY)
    prepare(out, spec, data=rigid_data, progress=False)
    run_chain(out, "transformer-a-n10", log=lambda line: None)
    return out, spec


def _weights(run):
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items()}


def test_a_continued_point_equals_a_fresh_run(sweep, tmp_path):
    from noether.studies.scaling.runner import point_config
    from noether.train.config import load_config
    from noether.train.run import train

    out, spec = sweep
    chain = next(c for c in plan(spec) if c.name == "transformer-a-n10")
    result = json.loads((out / "runs" / "transformer-a-n10-s6" / "result.json").read_text())
    assert result["how"] == "continued from transformer-a-n10-s3"
    data = json.loads((out / "spec.json").read_text())["data"]
    fresh = tmp_path / "fresh"
    train(load_config(point_config(spec, chain, data, 6), {"run.dir": str(fresh)}))
    continued, alone = _weights(out / "runs" / "transformer-a-n10-s6"), _weights(fresh)
    for key in alone:
        torch.testing.assert_close(continued[key], alone[key], rtol=0, atol=0)


def test_results_hold_compute_and_losses(sweep):
    out, _ = sweep
    result = json.loads((out / "runs" / "transformer-a-n10-s3" / "result.json").read_text())
    assert result["samples"] == 3 * 8 and result["params"] > 0
    assert result["compute"]["structured"] == result["flops_per_sample"]["structured"] * 24
    assert np.isfinite(result["test_mse"]) and result["test_mse"] > 0
    assert result["test_mse_moved"] != result["test_mse"]  # a Transformer is not equivariant


def test_interrupted_sweep_resumes_without_redoing_finished_points(sweep):
    from noether.studies.scaling.runner import run_chain

    out, _ = sweep
    first = out / "runs" / "transformer-a-n10-s3" / "result.json"
    second = out / "runs" / "transformer-a-n10-s6"
    before = first.read_text(), _weights(second)
    (second / "result.json").unlink()  # killed after training, before its result
    lines = []
    run_chain(out, "transformer-a-n10", log=lines.append)
    assert lines[0] == "done transformer-a-n10-s3 (finished before)"
    assert "resumed" in lines[1]
    assert first.read_text() == before[0]
    for key, value in before[1].items():
        torch.testing.assert_close(_weights(second)[key], value, rtol=0, atol=0)


def test_a_point_killed_before_its_first_checkpoint_is_redone(sweep):
    from noether.studies.scaling.runner import run_chain

    out, _ = sweep
    second = out / "runs" / "transformer-a-n10-s6"
    reference = _weights(second)
    for path in sorted(second.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (second / "config.yaml").write_text("half-written")
    lines = []
    run_chain(out, "transformer-a-n10", log=lines.append)
    assert "continued from transformer-a-n10-s3" in lines[1]
    for key, value in reference.items():
        torch.testing.assert_close(_weights(second)[key], value, rtol=0, atol=0)


def test_another_spec_in_the_same_folder_is_refused(sweep):
    from noether.studies.scaling.run import prepare

    out, spec = sweep
    other = SweepSpec(**{**spec.to_dict(), "lr": 0.5})
    with pytest.raises(ValueError, match="another spec"):
        prepare(out, other, data=json.loads((out / "spec.json").read_text())["data"])


def test_one_chain_of_an_array_skips_timing_and_finished_points(sweep, monkeypatch, capsys):
    from noether.studies.scaling import run as sweep_module

    def never(*args, **kwargs):
        raise AssertionError("timed every model for one chain")

    out, spec = sweep
    monkeypatch.setattr(sweep_module, "step_seconds", never)
    failed = sweep_module.run_chains(out, spec, progress=False, only="transformer-a-n10")
    assert failed == [] and "0 chain(s) to run" in capsys.readouterr().out
