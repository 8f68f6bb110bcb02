"""Running a fine-tuning study: the source run, then every arm and seed, then the test errors.

Each training is one ``noether.train`` run folder under ``<out>/runs/``; its ``result.json``
(config, training time, test errors) marks it finished, and a rerun reuses it while the config is
the same. A run killed midway (it writes ``last.ckpt`` every 250 steps) is continued with
``--resume`` semantics, exactly. A finished run made with other settings is refused unless
``overwrite``. The trainings of the arms run ``plan.workers`` at a time, one thread each.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from noether.atoms.dataset import AtomsDataset
from noether.atoms.finetune import initialise_new_elements, trained_elements
from noether.atoms.formats import read_dataset, write_dataset
from noether.atoms.splits import save_splits
from noether.core.checkpoints import load_trained_model
from noether.core.io import atomic_write_json
from noether.studies.algebras.run import StepTimer, _median
from noether.studies.finetune.plan import FinetunePlan
from noether.studies.finetune.report import write_report
from noether.studies.polyget.run import _predict, _worker_init
from noether.studies.recipe import first_change, refuse_changed, reusable_result
from noether.train.config import load_config
from noether.train.run import train
from noether.train.rundir import CONFIG

__all__ = ["evaluate", "prepare", "study", "train_run"]

RESULT = "result.json"


def _need(path: str, what: str) -> None:
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"{path}: no such file ({what}); make it with noether data molecules (the commands "
            f"are in docs/training.md, 'Fine-tuning')"
        )


def prepare(plan: FinetunePlan) -> None:
    """Write the source frames as one file and each seed's splits of the new frames."""
    for path in plan.source:
        _need(path, "source molecule frames")
    _need(plan.new, "new molecule frames")
    _need(plan.test, "test trajectory of the new molecule")
    n_new = len(read_dataset(plan.new))
    if plan.frames + plan.val_frames > n_new:
        raise ValueError(
            f"{plan.new} holds {n_new} frames, fewer than frames + val_frames "
            f"({plan.frames} + {plan.val_frames})"
        )
    if not plan.source_data.is_file():
        plan.source_data.parent.mkdir(parents=True, exist_ok=True)
        frames = AtomsDataset.concatenate([read_dataset(p) for p in plan.source])
        write_dataset(plan.source_data, frames)
    for seed in plan.seeds:
        order = np.random.default_rng(seed).permutation(n_new)
        save_splits(
            plan.splits_path(seed),
            {
                "idx_train": np.sort(order[: plan.frames]),
                "idx_val": np.sort(order[plan.frames : plan.frames + plan.val_frames]),
                "idx_test": np.array([], dtype=np.int64),
            },
        )


def changed_runs(plan: FinetunePlan) -> list[tuple[Path, str]]:
    """Finished runs of ``plan.out`` made with another config: ``(folder, 'key old -> new')``."""
    jobs = [("source", None)] + [(a, s) for a in plan.arms for s in plan.seeds]
    changed = []
    for arm, seed in jobs:
        done = plan.run_dir(arm, seed) / RESULT
        config = plan.source_config() if seed is None else plan.config(arm, seed)
        if done.is_file():
            old = json.loads(done.read_text()).get("config")
            change = first_change(old, json.loads(json.dumps(config)))
            if change:
                changed.append((plan.run_dir(arm, seed), change))
    return changed


def evaluate(plan: FinetunePlan, run_dir: Path) -> dict[str, float]:
    """Force MAE and RMSE (meV/Å, per component) and energy MAE (meV per frame) of a run's best
    model on every frame of the test trajectory."""
    model = load_trained_model(run_dir)
    return _errors(model, read_dataset(plan.test))


def _errors(model, data) -> dict[str, float]:
    energy, forces = _predict(model, data, np.arange(len(data)))
    diff = forces - data.forces
    return {
        "force_mae": float(np.abs(diff).mean() * 1e3),
        "force_rmse": float(np.sqrt((diff**2).mean()) * 1e3),
        "energy_mae": float(np.abs(energy - data.energy).mean() * 1e3),
        "test_frames": len(data),
    }


def source_errors(plan: FinetunePlan) -> dict[str, float]:
    """The source model on the test trajectory before any fine-tuning, new elements' rows set
    as the ``finetune`` arm starts (energies left out: its reference energies are not refit)."""
    model = load_trained_model(plan.run_dir("source"))
    resolved = yaml.safe_load((plan.run_dir("source") / CONFIG).read_text())
    test = read_dataset(plan.test)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    trained = trained_elements(resolved["model"])
    initialise_new_elements(model, state, trained, np.unique(test.numbers), "mean")
    errors = _errors(model, test)
    errors.pop("energy_mae")
    return errors


def train_run(plan: FinetunePlan, arm: str, seed: int | None, overwrite: bool = False) -> dict:
    """Train one run (the source when ``seed`` is None), continue a killed one, or reuse a
    finished one with the same config; then its test errors."""
    run_dir = plan.run_dir(arm, seed)
    config = plan.source_config() if seed is None else plan.config(arm, seed)
    done = run_dir / RESULT
    result = reusable_result(done, config, overwrite)
    if result is not None:
        return result
    if done.is_file():  # made with other settings, and overwrite: train it again
        shutil.rmtree(run_dir)
    resume = run_dir if (run_dir / CONFIG).is_file() else None
    if resume is None and run_dir.exists():
        shutil.rmtree(run_dir)  # killed before its config was written: nothing to keep
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    timer = StepTimer()
    start, cpu = time.perf_counter(), time.process_time()
    name = run_dir.name
    with (
        open(run_dir.parent / f"{name}.log", "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        train(load_config(config), callbacks=[timer], resume=resume)
    result = {
        "arm": arm,
        "seed": seed,
        "run_dir": str(run_dir),
        "resumed": resume is not None,
        "train_seconds": time.perf_counter() - start,
        "train_cpu_seconds": time.process_time() - cpu,
        "step_seconds_median": _median(timer.times),
        "config": config,
        # the source is measured with the new element's rows set: source_errors
        "test": None if seed is None else evaluate(plan, run_dir),
    }
    atomic_write_json(done, result)
    return result


def _map(plan: FinetunePlan, jobs: list[tuple], overwrite: bool, log) -> list[dict]:
    def said(r: dict) -> None:
        name = r["arm"] if r["seed"] is None else f"{r['arm']} seed {r['seed']}"
        error = f"test force MAE {r['test']['force_mae']:.1f} meV/Å, " if r["test"] else ""
        log(f"{name}: {error}trained in {r['train_seconds']:.0f} s")

    if plan.workers <= 1 or len(jobs) == 1:
        results = []
        for arm, seed in jobs:
            results.append(train_run(plan, arm, seed, overwrite))
            said(results[-1])
        return results
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(plan.workers, mp_context=context, initializer=_worker_init) as pool:
        futures = [pool.submit(train_run, plan, arm, seed, overwrite) for arm, seed in jobs]
        results = []
        for future in futures:
            results.append(future.result())
            said(results[-1])
    return results


def study(plan: FinetunePlan, command: str, *, log=print, overwrite: bool = False) -> dict:
    """The whole study: data, the source run, every arm and seed, the report. Returns
    ``{"paths": {...}, "results": {...}}``; other settings on a finished run are refused
    (``ValueError``, before anything is written) unless ``overwrite``."""
    refuse_changed(changed_runs(plan), overwrite)
    prepare(plan)
    (source,) = _map(plan, [("source", None)], overwrite, log)
    runs = _map(plan, [(a, s) for s in plan.seeds for a in plan.arms], overwrite, log)
    results: dict[str, Any] = {
        "plan": plan.to_dict(),
        "command": command,
        "source": {k: v for k, v in source.items() if k != "config"},
        "source_before_finetuning": source_errors(plan),
        "runs": [{k: v for k, v in r.items() if k != "config"} for r in runs],
    }
    paths = write_report(plan, results)
    return {"paths": paths, "results": results}
