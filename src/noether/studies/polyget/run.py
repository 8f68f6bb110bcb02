"""Running a PolyGET study: splits, the two trainings, force errors, MD and structure.

Each model is one ``noether.train`` run folder under ``<out>/runs/<model>``; its
``result.json`` (config, training time) marks it finished, and a rerun reuses it while the config
is the same. The MD of a model (every family and temperature in one batch) writes
``<out>/md/<model>.json`` and ``<out>/md/<model>.npz`` (reused likewise). The two models train
(and run MD) ``plan.workers`` at a time in processes of one thread each.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from noether.atoms.batch import AtomsBatch
from noether.atoms.batched_md import langevin_batch
from noether.atoms.formats import read_dataset, read_frame_info
from noether.atoms.splits import save_splits
from noether.atoms.structure import (
    bond_angles,
    bond_lengths,
    bonded_angles,
    covalent_bonds,
    pair_distances,
    wasserstein,
)
from noether.atoms.task import load_trained_potential
from noether.core.io import atomic_path, atomic_write_json
from noether.studies.algebras.run import StepTimer, _median
from noether.studies.polyget.plan import PolyGETPlan, study_indices
from noether.studies.polyget.report import write_report
from noether.studies.recipe import first_change, refuse_changed, reusable_result
from noether.train.config import load_config
from noether.train.run import train

__all__ = ["evaluate_forces", "md_model", "prepare", "study", "train_model"]

RESULT = "result.json"


def _read(plan: PolyGETPlan):

    info = read_frame_info(plan.data)
    if not {"family", "n_units", "temperature"} <= set(info):
        raise ValueError(
            f"{plan.data}: needs frame_info family, n_units and temperature (from noether data "
            f"polymers); it has {sorted(info)}"
        )
    return read_dataset(plan.data), info


def prepare(plan: PolyGETPlan) -> dict[str, np.ndarray]:
    """Write the training splits (``<out>/splits.npz``) and return every set's indices."""

    _, info = _read(plan)
    sets = study_indices(info, plan)
    for name in ("idx_train", "idx_val", "idx_test"):
        if not sets[name].size:
            raise ValueError(f"the study's {name[4:]} set is empty; generate more frames")
    save_splits(plan.splits_path, sets)
    return sets


def _worker_init() -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("MPLBACKEND", "Agg")


def changed_runs(plan: PolyGETPlan) -> list[tuple[Path, str]]:
    """The finished training runs of ``plan.out`` made with another config than ``plan``'s:
    ``(run folder, first differing key as 'key old -> new')``."""
    changed = []
    for model in plan.models:
        done = plan.run_dir(model) / RESULT
        if done.is_file():
            old = json.loads(done.read_text()).get("config")
            change = first_change(old, json.loads(json.dumps(plan.config(model))))
            if change:
                changed.append((plan.run_dir(model), change))
    return changed


def train_model(plan: PolyGETPlan, model: str, overwrite: bool = False) -> dict[str, Any]:
    """Train one model, or reuse its finished run with the same config. A finished run with
    another config is a ``ValueError`` unless ``overwrite`` (then it is trained again)."""

    run_dir = plan.run_dir(model)
    config_dict = plan.config(model)
    result = reusable_result(run_dir / RESULT, config_dict, overwrite)
    if result is not None:
        return result
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    timer = StepTimer()
    start, cpu = time.perf_counter(), time.process_time()
    with (
        open(run_dir.parent / f"{model}.log", "w") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        train(load_config(config_dict), callbacks=[timer])
    result = {
        "model": model,
        "run_dir": str(run_dir),
        "train_seconds": time.perf_counter() - start,
        "train_cpu_seconds": time.process_time() - cpu,
        "step_seconds_median": _median(timer.times),
        "config": config_dict,
    }
    atomic_write_json(run_dir / RESULT, result)
    return result


def _predict(model: torch.nn.Module, data, indices: np.ndarray, batch_frames: int = 32):
    """Energies ``(F,)`` eV and forces ``(sum n, 3)`` eV/Å of the frames ``indices``."""

    dtype = next(model.parameters()).dtype
    energies, forces = [], []
    for start in range(0, len(indices), batch_frames):
        batch = AtomsBatch.from_dataset(data, indices[start : start + batch_frames])
        out = model(batch.numbers, batch.positions.to(dtype), batch.batch)
        energies.append(out["energy"].detach().double().numpy())
        forces.append(out["forces"].detach().double().numpy())
    return np.concatenate(energies), np.concatenate(forces)


def evaluate_forces(plan: PolyGETPlan, model: str, sets: dict[str, np.ndarray]) -> dict:
    """Per set (test, unseen, long) and family: force MAE (meV/Å), force RMSE, and the energy
    MAE per atom after removing the family's mean error (meV/atom; a force-only model's energy
    is defined only up to such an offset)."""

    data, info = _read(plan)
    net = load_trained_potential(str(plan.run_dir(model)))
    out: dict[str, dict] = {}
    for name in ("test", "unseen", "long"):
        idx = sets[f"idx_{name}"]
        out[name] = {}
        if not idx.size:
            continue
        energy, forces = _predict(net, data, idx)
        sub = data.subset(idx)
        frame_of_atom = np.repeat(np.arange(len(idx)), sub.n_atoms)
        abs_err = np.abs(forces - sub.forces)
        sq_err = (forces - sub.forces) ** 2
        e_err = (energy - sub.energy) / sub.n_atoms
        fam = info["family"][idx]
        for f in dict.fromkeys(fam.tolist()):
            frames = fam == f
            atoms = frames[frame_of_atom]
            offset_removed = e_err[frames] - e_err[frames].mean()
            out[name][f] = {
                "frames": int(frames.sum()),
                "atoms": int(sub.n_atoms[frames][0]),
                "force_mae": float(abs_err[atoms].mean() * 1e3),
                "force_rmse": float(np.sqrt(sq_err[atoms].mean()) * 1e3),
                "energy_mae_offset_removed": float(np.abs(offset_removed).mean() * 1e3),
                "_sum_abs": float(abs_err[atoms].sum()),
                "_count": int(abs_err[atoms].size),
            }
    return out


def _start_frame(info: dict[str, np.ndarray], family: str, units: int) -> int:
    """The first frame of the family's lowest-temperature trajectory: an xTB thermal structure."""
    frames = np.flatnonzero((info["family"] == family) & (info["n_units"] == units))
    coldest = info["temperature"][frames].min()
    return int(frames[info["temperature"][frames] == coldest][0])


def _structure(pos: np.ndarray, ref: np.ndarray, bonds: np.ndarray, n: int) -> dict:
    """Wasserstein-1 distances of bond lengths (Å), bonded angles (°) and pair distances (Å)
    between the frames ``pos (K, n, 3)`` and the xTB frames ``ref``, and the same distance
    between the two halves of ``ref`` (``xtb_floor_*``: how far xTB's own sample is from itself)."""

    if len(pos) < 5 or len(ref) < 4:
        return {}
    triples = bonded_angles(bonds, n)
    half = len(ref) // 2
    out = {}
    for name, fn in (
        ("bond", lambda p: bond_lengths(p, bonds)),
        ("angle", lambda p: bond_angles(p, triples)),
        ("rdf", pair_distances),
    ):
        out[f"w1_{name}"] = wasserstein(fn(pos), fn(ref))
        out[f"xtb_floor_{name}"] = wasserstein(fn(ref[:half]), fn(ref[half:]))
    return out


def md_model(plan: PolyGETPlan, model: str, progress: bool = True) -> list[dict[str, Any]]:
    """Langevin MD of ``model`` on every family at every ``md_temperatures``, all in one batch
    (:func:`noether.atoms.batched_md.langevin_batch`), each run from the first xTB frame of the
    family, with its stability verdict, time to failure and structural fidelity against the xTB
    frames of the data at that temperature. Writes ``<out>/md/<model>.json`` (the records) and
    ``<out>/md/<model>.npz`` (logged positions per ``<family>_<T>K``)."""

    folder = Path(plan.out) / "md"
    record_path = folder / f"{model}.json"
    stamp = {
        "md_steps": plan.md_steps,
        "md_timestep": plan.md_timestep,
        "md_friction": plan.md_friction,
        "md_log_every": plan.md_log_every,
        "md_temperatures": list(plan.md_temperatures),
        "config": json.loads(json.dumps(plan.config(model))),
    }
    if record_path.is_file():
        saved = json.loads(record_path.read_text())
        if saved.get("stamp") == stamp:
            return saved["runs"]
    data, info = _read(plan)
    families = list(dict.fromkeys(info["family"][info["n_units"] == plan.train_units].tolist()))
    jobs = [(f, t) for f in families for t in plan.md_temperatures]
    starts = {f: data.to_atoms(_start_frame(info, f, plan.train_units)) for f in families}
    net = load_trained_potential(str(plan.run_dir(model)))
    if plan.md_compile:
        net.compile_inference()  # not in the stamp: the same model, compiled kernels
    begin, cpu = time.perf_counter(), time.process_time()
    runs = langevin_batch(
        [starts[f] for f, _ in jobs],
        net,
        [t for _, t in jobs],
        timestep=plan.md_timestep,
        steps=plan.md_steps,
        friction=plan.md_friction,
        seed=plan.seed,
        log_every=plan.md_log_every,
        progress=f"MD {model}" if progress else None,
        progress_position=plan.models.index(model) if plan.workers else 0,
    )
    seconds, cpu = time.perf_counter() - begin, time.process_time() - cpu
    records, arrays = [], {}
    for (family, temperature), run in zip(jobs, runs):
        result, start = run.result, starts[family]
        n = len(start)
        ref_idx = np.flatnonzero(
            (info["family"] == family)
            & (info["n_units"] == plan.train_units)
            & (info["temperature"] == temperature)
        )
        ref = np.zeros((0, n, 3))
        if ref_idx.size:
            ref = np.stack([data.positions[data.frame_slice(k)] for k in ref_idx])
        bonds = covalent_bonds(start.numbers, start.get_all_distances())
        arrays[f"{family}_{temperature:g}K"] = run.positions
        records.append(
            {
                "model": model,
                "family": family,
                "temperature": temperature,
                "atoms": n,
                "stable": result.stable,
                "failure": result.failure,
                "time_ps": float(result.time_fs[-1] / 1000.0) if result.time_fs.size else 0.0,
                "failure_time_ps": None
                if result.failure_time_fs is None
                else float(result.failure_time_fs / 1000.0),
                "target_ps": plan.md_steps * plan.md_timestep / 1000.0,
                "mean_temperature": float(np.mean(result.temperature))
                if result.temperature.size
                else float("nan"),
                "frames": len(run.positions),
                "reference_frames": len(ref),
                "structure": _structure(run.positions, ref, bonds, n),
            }
        )
    folder.mkdir(parents=True, exist_ok=True)

    with atomic_path(folder / f"{model}.npz", ".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    summary = {"stamp": stamp, "seconds": seconds, "cpu_seconds": cpu, "runs": records}
    atomic_write_json(record_path, summary)
    return records


def _pool(plan: PolyGETPlan):
    if plan.workers == 0:
        return None
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(plan.workers, mp_context=context, initializer=_worker_init)


def _map(plan: PolyGETPlan, fn, jobs: list[tuple], on_result=None) -> list:
    """``fn(plan, *job)`` for every job, in the pool (or here with ``workers=0``)."""
    results = []
    pool = _pool(plan)
    if pool is None:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for job in jobs:
                results.append(fn(plan, *job))
                if on_result:
                    on_result(results[-1])
        finally:
            torch.set_num_threads(previous)
        return results
    with pool:
        futures = [pool.submit(fn, plan, *job) for job in jobs]
        for future in futures:
            results.append(future.result())
            if on_result:
                on_result(results[-1])
    return results


def study(
    plan: PolyGETPlan, command: str, *, log=print, overwrite: bool = False, progress: bool = True
) -> dict[str, Any]:
    """The whole study: splits, the two trainings, force errors, MD, then the report.

    A finished training in ``plan.out`` made with other settings is refused (``ValueError``,
    before anything is written) unless ``overwrite``, which trains it again.
    Returns ``{"paths": {...}, "results": {...}}``.
    """

    refuse_changed(changed_runs(plan), overwrite)
    sets = prepare(plan)
    _, info = _read(plan)
    log(
        f"frames: {sets['idx_train'].size} train, {sets['idx_val'].size} val, "
        f"{sets['idx_test'].size} test, {sets['idx_unseen'].size} unseen "
        f"({', '.join(plan.held_out)}), {sets['idx_long'].size} longer chains"
    )
    trainings = _map(
        plan,
        train_model,
        [(m, overwrite) for m in plan.models],
        lambda r: log(f"trained {r['model']} in {r['train_seconds']:.0f} s"),
    )
    sets = prepare(plan)  # again: longer chains may have been added to the data meanwhile
    forces = {m: evaluate_forces(plan, m, sets) for m in plan.models}
    families = list(dict.fromkeys(info["family"][info["n_units"] == plan.train_units].tolist()))

    def said(runs: list[dict]) -> None:
        for r in runs:
            state = "stable" if r["stable"] else f"failed at {r['failure_time_ps']:.3f} ps"
            log(f"MD {r['model']:>10} {r['family']:>7} {r['temperature']:.0f} K: {state}")

    md = [
        r for runs in _map(plan, md_model, [(m, progress) for m in plan.models], said) for r in runs
    ]
    results = {
        "plan": plan.to_dict(),
        "command": command,
        "sets": {k[4:]: int(v.size) for k, v in sets.items()},
        "families": families,
        "training": {r["model"]: {k: v for k, v in r.items() if k != "config"} for r in trainings},
        "forces": forces,
        "md": md,
    }
    paths = write_report(plan, results)
    return {"paths": paths, "results": results}
