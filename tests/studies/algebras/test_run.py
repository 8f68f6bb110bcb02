"""Runs already in a study's folder: reused or resumed with the same settings; made with other
settings, refused before anything is written unless --overwrite."""

import hashlib
from dataclasses import replace

import pytest
import yaml

from noether.studies.algebras.plan import ModelSpec, StudyPlan
from noether.studies.algebras.run import check_data, check_existing, study

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
