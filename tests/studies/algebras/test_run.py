"""Runs already in a study's folder: reused or resumed with the same settings; made with other
settings, refused before anything is written unless --overwrite."""

import hashlib
from dataclasses import replace

import pytest
import yaml

from noether.sims.nbody.dataset import NBodySizes, generate_dataset, write_dataset
from noether.sims.nbody.simulator import NBodyConfig
from noether.studies.algebras.plan import ModelSpec, StudyPlan, preset
from noether.studies.algebras.run import check_data, check_existing, run_study, study

SPECS = {
    "geo": ModelSpec("tiny PGA", {"name": "test-tiny-geometric", "algebra": "pga", "hidden": 4}),
}


def _plan(placed_nbody_dir, out, **kw) -> StudyPlan:
    settings = {
        "data": placed_nbody_dir,
        "out": str(out),
        "models": ("geo",),
        "sizes": (8,),
        "seeds": (0,),
        "steps": 4,
        "batch_size": 4,
        "eval_every": 2,
        "n_val": 8,
        "workers": 0,
        "specs": SPECS,
    }
    return StudyPlan(**{**settings, **kw})


def _hash(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def test_runs_of_other_settings_are_refused_unless_overwrite(
    placed_nbody_dir, tmp_path, tiny_geometric
):
    out = tmp_path / "study"
    study(_plan(placed_nbody_dir, out), "first", progress=False)
    check_existing(_plan(placed_nbody_dir, out))  # the same settings: reused, nothing to refuse
    other = _plan(
        placed_nbody_dir, out, batch_size=2
    )  # another computation (more steps would resume)
    before = _hash(out)
    with pytest.raises(
        ValueError, match=r"geo-n8-s0 was trained with other settings .*--overwrite"
    ):
        study(other, "second", progress=False)
    assert _hash(out) == before
    study(other, "third", progress=False, overwrite=True)
    saved = yaml.safe_load((out / "runs" / "geo-n8-s0" / "config.yaml").read_text())
    assert saved["data"]["batch_size"] == 2


def test_data_placed_otherwise_than_the_plan_is_refused(nbody_dir, placed_nbody_dir):
    """The study's data must be randomly placed with the plan's scale (so the symmetry varies);
    canonical data serves only a plan that asks for it."""
    plan = StudyPlan(models=("ipga",), sizes=(8,), specs={"ipga": ModelSpec("x", {})})
    check_data(replace(plan, data=placed_nbody_dir))
    with pytest.raises(ValueError, match=r"placement='canonical'.*plan needs placement='random'"):
        check_data(replace(plan, data=nbody_dir))
    with pytest.raises(ValueError, match=r"shift_std=1.0; the plan needs .*shift_std=2.0"):
        check_data(replace(plan, data=placed_nbody_dir, shift=2.0))
    check_data(replace(plan, data=nbody_dir, placement="canonical"))
    with pytest.raises(ValueError, match="placement must be random or canonical"):
        replace(plan, placement="upright")


# The stall of issue 24, as a training run: at the algebra study's default budget, every seed of
# EGA- and iPGA-GATr ends within 2x of the best seed's test MSE. Before the initialisation was
# fixed, iPGA ended between 2.2e-4 and 1.3e-3 over 5 seeds at 1,000 systems (5.7x); docs/nbody.md
# has the seed tables. CGA still stalls in 1 of 15 runs of the default study (issue 24 stays open
# for it): expected to fail. About 5 minutes per model on two cores.
@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        "ega",
        "ipga",
        pytest.param(
            "cga",
            marks=pytest.mark.xfail(reason="CGA-GATr still stalls on some seeds", strict=False),
        ),
    ],
)
def test_every_seed_ends_within_2x_of_the_best(model, tmp_path):
    plan = preset(
        "default",
        data=str(tmp_path / "data"),
        out=str(tmp_path / "study"),
        models=(model,),
        sizes=(1000,),
    )
    sizes = NBodySizes(train=1000, val=plan.n_val, test=plan.n_test, more_bodies=16)
    splits, meta = generate_dataset(
        NBodyConfig(placement="random", shift_std=plan.shift), sizes, seed=1, progress=False
    )
    write_dataset(plan.data, splits, meta)
    results = run_study(plan)
    assert not [r for r in results if "error" in r]
    errors = sorted(r["test"]["test"]["mse"] for r in results)
    assert len(errors) == 5
    assert errors[-1] <= 2 * errors[0], errors
