import json

import pytest

from noether.cli import main
from noether.studies.algebras.plan import MODELS, ModelSpec, StudyPlan, preset
from noether.studies.algebras.run import study

SPECS = {
    "geo": ModelSpec("tiny PGA", {"name": "test-tiny-geometric", "algebra": "pga", "hidden": 4}),
    "raw-aug": ModelSpec("tiny raw + aug.", {"name": "test-tiny-raw"}, augment=True),
}


def _plan(placed_nbody_dir, out, **kw) -> StudyPlan:
    settings = {
        "data": placed_nbody_dir,
        "out": str(out),
        "models": tuple(SPECS),
        "sizes": (8, 32),
        "seeds": (0, 1),
        "steps": 6,
        "batch_size": 4,
        "eval_every": 3,
        "n_val": 8,
        "workers": 0,
        "specs": SPECS,
    }
    return StudyPlan(**{**settings, **kw})


def test_a_tiny_study_trains_evaluates_and_reports(
    placed_nbody_dir, tmp_path, tiny_geometric, capsys
):
    plan = _plan(placed_nbody_dir, tmp_path / "study")
    out = study(plan, "noether study algebras --test", progress=False)
    results = out["results"]
    assert len(results) == 8
    for r in results:
        assert set(r["test"]) == {"test", "test_rotated", "test_translated", "test_more_bodies"}
        assert all(v["mse"] > 0 for v in r["test"].values())
        assert (tmp_path / "study" / "runs" / f"{r['model']}-n{r['size']}-s{r['seed']}").is_dir()
    geo = [r for r in results if r["model"] == "geo"]
    # an SE(3)-equivariant model errs the same on rotated and plain test systems
    for r in geo:
        assert r["test"]["test_rotated"]["mse"] == pytest.approx(r["test"]["test"]["mse"], 1e-4)
    costs = out["costs"]
    assert costs["geo"]["parameters"] == sum(p.numel() for p in tiny_geometric().parameters())
    assert costs["geo"]["flops_per_token"] > 0 and costs["raw-aug"]["step_seconds"] > 0
    table = out["paths"]["table"].read_text()
    assert "| tiny PGA |" in table and "test MSE, n=32" in table
    geo32 = sorted(r["test"]["test"]["mse"] for r in geo if r["size"] == 32)
    assert f"{geo32[0]:.1e}–{geo32[1]:.1e}" in table  # median (lowest–highest) of the seeds
    assert "## Every seed" in table and "| tiny PGA | 32 |" in table
    assert out["paths"]["plot"].stat().st_size > 10_000
    document = json.loads(out["paths"]["json"].read_text())
    assert document["summary"]["geo"]["32"]["test"]["seeds"] == 2
    assert document["summary"]["geo"]["32"]["test"]["values"] == [
        r["test"]["test"]["mse"] for r in sorted(geo, key=lambda r: r["seed"]) if r["size"] == 32
    ]

    # a second call reuses every finished run whose config and tokens are the current ones
    stale = tmp_path / "study" / "runs" / "geo-n8-s1" / "result.json"
    record = json.loads(stale.read_text())
    stale.write_text(json.dumps({**record, "tokens_version": -1}))
    again = {
        (r["model"], r["size"], r["seed"]): r
        for r in study(plan, "again", progress=False)["results"]
    }
    assert "reusing 7 finished runs of 8" in capsys.readouterr().out  # not the stale one
    for r in results:
        key = (r["model"], r["size"], r["seed"])
        assert (again[key]["train_seconds"] == r["train_seconds"]) == (key != ("geo", 8, 1))
    assert again[("geo", 8, 1)]["tokens_version"] == record["tokens_version"]


def test_a_failing_run_is_reported_and_the_others_go_on(placed_nbody_dir, tmp_path):
    specs = {**SPECS, "broken": ModelSpec("broken", {"name": "test-tiny-geometric", "hidden": -1})}
    plan = _plan(
        placed_nbody_dir, tmp_path, models=("geo", "broken"), sizes=(8,), seeds=(0,), specs=specs
    )
    out = study(plan, "test", progress=False)
    assert [r["model"] for r in out["results"]] == ["geo"]
    (failed,) = out["failed"]
    assert failed["model"] == "broken" and "Error" in failed["error"]
    assert "broken" not in out["paths"]["table"].read_text()


def test_plans_refuse_bad_settings_and_presets_scale(tmp_path):
    with pytest.raises(ValueError, match="unknown models"):
        StudyPlan(models=("ega", "hga"))
    with pytest.raises(ValueError, match="sizes"):
        StudyPlan(sizes=(0, 10))
    with pytest.raises(ValueError, match="preset"):
        preset("huge")
    default, large = preset("default"), preset("large")
    assert default.models == MODELS and len(default.seeds) >= 3
    assert len(large.jobs()) > len(default.jobs()) and large.steps > default.steps
    assert preset("default", width="base").spec("ipga").model["hidden_mv_channels"] == 16
    config = default.config("transformer-aug", 100, 2)
    assert config["task"]["augment"] is True and config["seed"] == 2
    assert config["task"]["n_train"] == 100 and config["trainer"]["max_steps"] == default.steps


def test_the_command_refuses_unknown_models(capsys):
    assert main(["study", "algebras", "--models", "ega,xga"]) == 2
    assert "unknown models" in capsys.readouterr().err


def test_sizes_beyond_the_data_are_refused_before_any_run(placed_nbody_dir, tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["--data", placed_nbody_dir, "--out", str(out), "--no-progress"]
    assert main(["study", "algebras", *argv, "--sizes", "8,1000"]) == 2
    assert "holds 64 training systems" in capsys.readouterr().err
    assert main(["run", *argv, "--size", "65"]) == 2
    assert "up to 65" in capsys.readouterr().err
    assert not out.exists()


def test_the_transformers_are_matched_to_the_ipga_gatr():
    """At the study's width: ``transformer`` has the parameter count of iPGA-GATr and
    ``transformer-flops`` its training FLOPs per token, each the closest a multiple of the heads
    gets (the next narrower and wider Transformers are further off)."""
    from noether.studies.algebras.plan import (
        TRANSFORMER_HEADS,
        _transformer,
        model_cost,
        model_specs,
    )

    specs = model_specs("small")
    gatr = model_cost(specs["ipga"].model)
    for name, measure in (("transformer", "parameters"), ("transformer-flops", "flops_per_token")):
        model = specs[name].model
        width, blocks = model["hidden_channels"], model["num_blocks"]
        gap = abs(model_cost(model)[measure] - gatr[measure])
        for other in (width - TRANSFORMER_HEADS, width + TRANSFORMER_HEADS):
            cost = model_cost(_transformer(other, blocks, TRANSFORMER_HEADS))[measure]
            assert gap <= abs(cost - gatr[measure])
        assert gap / gatr[measure] < 0.1
    assert specs["transformer-aug"].model == specs["transformer"].model
    assert specs["transformer-aug"].augment and not specs["transformer"].augment
