import numpy as np
import pytest

from noether.studies.polyget.plan import MODELS, PolyGETPlan, preset, study_indices


def _info():
    family, units, temperature = [], [], []
    for f in ("pe", "ps", "pp"):
        for t in (300.0, 500.0):
            family += [f] * 10
            units += [2] * 10
            temperature += [t] * 10
        if f != "pp":
            family += [f] * 4
            units += [3] * 4
            temperature += [300.0] * 4
    return {
        "family": np.array(family),
        "n_units": np.array(units),
        "temperature": np.array(temperature),
    }


def test_sets_split_each_trajectory_in_time_and_hold_families_out():
    info = _info()
    plan = PolyGETPlan(held_out=("pp",), train_fraction=0.6, val_fraction=0.2)
    sets = study_indices(info, plan)
    everything = np.concatenate(list(sets.values()))
    assert len(everything) == len(set(everything.tolist())) == len(info["family"])
    assert set(info["family"][sets["idx_unseen"]]) == {"pp"}
    assert "pp" not in set(info["family"][np.concatenate([sets["idx_train"], sets["idx_val"]])])
    assert set(info["n_units"][sets["idx_long"]]) == {3}
    assert set(info["n_units"][sets["idx_train"]]) == {2}
    # every trajectory: 6 train frames, then 2 val, then 2 test, in time order
    for f in ("pe", "ps"):
        for t in (300.0, 500.0):
            traj = np.flatnonzero(
                (info["family"] == f) & (info["temperature"] == t) & (info["n_units"] == 2)
            )
            assert np.isin(traj[:6], sets["idx_train"]).all()
            assert np.isin(traj[6:8], sets["idx_val"]).all()
            assert np.isin(traj[8:], sets["idx_test"]).all()
    with pytest.raises(ValueError, match=r"held-out families \['pet'\] are not in the data"):
        study_indices(info, PolyGETPlan(held_out=("pet",)))
    with pytest.raises(ValueError, match="nothing to train on"):
        study_indices(info, PolyGETPlan(held_out=("pe", "ps", "pp")))


def test_the_two_models_differ_only_in_the_energy_term():
    plan = preset("default")
    a, b = plan.config("force-only"), plan.config("joint")
    assert a["task"]["energy_weight"] == 0 and b["task"]["energy_weight"] > 0
    assert a["task"]["forces_weight"] == b["task"]["forces_weight"]
    assert a["task"]["fit_atomref"] is False
    for key in ("model", "optim", "schedule", "trainer", "data", "seed"):
        assert a[key] == b[key], key
    assert set(MODELS) == {"force-only", "joint"}
    assert len(plan.held_out) >= 3


def test_bad_plans():
    with pytest.raises(ValueError, match="unknown models"):
        PolyGETPlan(models=("energy-only",))
    with pytest.raises(ValueError, match="long_units"):
        PolyGETPlan(train_units=3, long_units=3)
    with pytest.raises(ValueError, match="leave frames for the test"):
        PolyGETPlan(train_fraction=0.9, val_fraction=0.1)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("huge")
    assert preset("quick", steps=7).steps == 7


def test_md_compile_reaches_the_plan_from_the_command_line(monkeypatch, capsys):
    from noether.cli import main
    from noether.studies.polyget import run as polyget_runs

    plans, shown = [], []

    def fake_study(plan, command, log, overwrite=False, progress=True):
        plans.append(plan)
        shown.append(progress)
        raise ValueError("stop here")

    monkeypatch.setattr(polyget_runs, "study", fake_study)
    assert main(["study", "polyget", "--preset", "quick", "--md-compile"]) == 2
    assert main(["study", "polyget", "--preset", "quick", "--no-progress"]) == 2
    assert [p.md_compile for p in plans] == [True, False]
    assert shown == [True, False]  # --no-progress reaches the study (the MD bars)
