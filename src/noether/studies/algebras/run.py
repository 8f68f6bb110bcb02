"""Running an algebra study: every run through the training stack, costs, then the report.

Each run is one ``noether.train`` run folder under ``<out>/runs/<model>-n<size>-s<seed>``; its
``result.json`` holds the errors on every test set, the config and the tokens' version. A rerun
of the study reuses finished runs whose config and tokens are the current ones and resumes
unfinished ones from their last checkpoint. Runs go ``plan.workers`` at a time in processes of
one thread each (tiny models run fastest on one thread); costs (parameters, FLOPs per token,
time per step) are measured once per model afterwards, in this process.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from noether.core.cost import count_flops, count_parameters, time_per_call
from noether.core.io import atomic_write_json
from noether.core.progress import Progress
from noether.sims.nbody.dataset import NBodySizes, generate_dataset, load_meta, write_dataset
from noether.sims.nbody.eval import baseline_errors, evaluate_sets
from noether.sims.nbody.simulator import NBodyConfig
from noether.sims.nbody.task import NBodyTask
from noether.sims.nbody.tokens import TOKENS_VERSION
from noether.studies.algebras.plan import StudyPlan
from noether.studies.algebras.report import write_report
from noether.train.checkpoints import LAST
from noether.train.config import Config, ConfigError, build, load_config
from noether.train.run import check_resume_changes, train
from noether.train.trained import load_trained_model

__all__ = ["check_data", "ensure_data", "measure_cost", "run_one", "run_study", "study"]

RESULT = "result.json"


class StepTimer(Callback):
    """Wall time of every optimiser step (forward, backward, update)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter() - self._start)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def _current(result: dict[str, Any], stamp: dict[str, Any]) -> bool:
    """Whether a stored result was made with the run's current config and tokens."""
    return all(result.get(k) == v for k, v in stamp.items())


def _finished(plan: StudyPlan, model: str, size: int, seed: int) -> bool:
    """Whether the run has a result :func:`run_job` will reuse (not a stale one)."""
    done = plan.run_dir(model, size, seed) / RESULT
    if not done.is_file():
        return False
    try:
        return _current(json.loads(done.read_text()), _stamp(plan, model, size, seed))
    except (OSError, ValueError):
        return False


def _stamp(plan: StudyPlan, model: str, size: int, seed: int) -> dict[str, Any]:
    """What a finished run must match to be reused: its config and the tokens' version."""
    return {"config": plan.config(model, size, seed), "tokens_version": TOKENS_VERSION}


def _resumable(run_dir: Path, config: Config) -> bool:
    """A run folder with a last checkpoint whose config may continue as ``config``."""

    if not (run_dir / "checkpoints" / LAST).is_file():
        return False
    try:
        check_resume_changes(load_config(run_dir / "config.yaml"), config)
    except (ConfigError, OSError, ValueError):
        return False
    return True


def run_one(plan: StudyPlan, model: str, size: int, seed: int) -> dict[str, Any]:
    """Train one run (or resume it, or reuse its result) and evaluate it on every test set.

    A finished run is reused only if its config and the tokens' version are the current ones,
    an unfinished one resumes only if its config may continue; anything else starts again.
    """

    run_dir = plan.run_dir(model, size, seed)
    done = run_dir / RESULT
    stamp = _stamp(plan, model, size, seed)
    if done.is_file():
        result = json.loads(done.read_text())
        if _current(result, stamp):
            return result
    config = load_config(stamp["config"])
    timer = StepTimer()
    start = time.perf_counter()
    resume = _resumable(run_dir, config)
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(run_dir.parent / f"{run_dir.name}.log", "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        if resume:
            train(None, resume=run_dir, callbacks=[timer])
        else:
            train(config, callbacks=[timer])
    seconds = time.perf_counter() - start
    trained = load_trained_model(run_dir)
    result = {
        "model": model,
        "size": size,
        "seed": seed,
        "run_dir": str(run_dir),
        "steps": plan.steps,
        "train_seconds": seconds,
        "step_seconds_median": _median(timer.times),
        "test": evaluate_sets(trained, plan.data),
        **stamp,
    }
    atomic_write_json(done, result)
    return result


def measure_cost(plan: StudyPlan, model: str, *, threads: int = 1) -> dict[str, Any]:
    """Parameters, FLOPs per token (forward + backward) and seconds per training step (forward,
    backward, AdamW update; best of 5 rounds) of one model at the plan's batch size."""

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        config = load_config(plan.config(model, plan.sizes[0], 0))
        torch.manual_seed(0)
        net = build(config.model, "model").train()
        task = NBodyTask(**config.task.options)
        samples = task.datasets().train
        batch = task.collate([samples[i] for i in range(plan.batch_size)])
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-6)

        def forward_backward() -> None:
            task.loss(task.forward(net, batch), batch).backward()

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            forward_backward()
            optimizer.step()

        flops, by_op = count_flops(forward_backward)
        tokens = batch["masses"].numel()
        seconds = time_per_call(step, calls=10, repeats=5)
    finally:
        torch.set_num_threads(previous)
    return {
        "model": model,
        "parameters": count_parameters(net),
        "flops_per_token": flops / tokens,
        "flops_by_op": by_op,
        "step_seconds": seconds,
        "batch_size": plan.batch_size,
        "threads": threads,
    }


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)
    os.environ.setdefault("MPLBACKEND", "Agg")


def _job(plan: StudyPlan, job: tuple[str, int, int]) -> dict[str, Any]:
    """:func:`run_one`, with a failure returned as ``{"model", "size", "seed", "error"}``."""
    try:
        return run_one(plan, *job)
    except Exception as error:  # one broken run must not stop the others
        import traceback

        tail = "".join(traceback.format_exception(error)[-3:]).strip()
        return {"model": job[0], "size": job[1], "seed": job[2], "error": tail}


def run_study(
    plan: StudyPlan, on_result: Callable[[dict[str, Any], int, int], None] | None = None
) -> list[dict[str, Any]]:
    """Every run of the plan, ``plan.workers`` at a time (0: in this process), one thread each.

    ``on_result(result, done, total)`` is called as runs finish. A run that raised is returned
    as ``{"model", "size", "seed", "error"}`` and the others go on.
    """
    jobs = plan.jobs()
    results: list[dict[str, Any]] = []

    def finished(result: dict[str, Any]) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result, len(results), len(jobs))

    if plan.workers == 0:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny models: one thread is fastest, as in the workers
        try:
            for job in jobs:
                finished(_job(plan, job))
        finally:
            torch.set_num_threads(previous)
        return results
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        plan.workers, mp_context=context, initializer=_worker_init, initargs=(1,)
    )
    try:
        futures = [pool.submit(_job, plan, job) for job in jobs]
        for future in as_completed(futures):
            finished(future.result())
    except BaseException:
        # Ctrl-C or an error here: stop the workers now (Lightning would finish their runs on
        # SIGTERM). Their checkpoints are written atomically; a rerun resumes them.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def check_data(plan: StudyPlan) -> None:
    """Raise ``ValueError`` if ``plan.data`` holds a dataset the plan cannot use: fewer training
    systems than its largest size, or systems placed otherwise than the plan's random placement
    (rotation and translation of scale ``plan.shift``); so the study is refused before any run.
    A missing dataset passes (:func:`ensure_data` makes it)."""

    if not (Path(plan.data) / "meta.json").is_file():
        return
    meta = load_meta(plan.data)
    held = meta["sizes"]["train"]
    if held < max(plan.sizes):
        raise ValueError(
            f"{plan.data} holds {held} training systems but the study trains on up to "
            f"{max(plan.sizes)}; choose sizes up to {held} or another dataset"
        )
    config = meta.get("config", {})
    placement, shift = config.get("placement", "canonical"), config.get("shift_std")
    if placement != plan.placement or (placement == "random" and shift != plan.shift):
        wanted = f"placement={plan.placement!r}" + (
            f", shift_std={plan.shift}" if plan.placement == "random" else ""
        )
        raise ValueError(
            f"{plan.data}/meta.json: config.placement={placement!r}, shift_std={shift}; the "
            f"plan needs {wanted} (--placement, --shift); choose another --data (it is generated)"
        )


def ensure_data(plan: StudyPlan, *, progress: bool = True) -> bool:
    """Generate the plan's n-body dataset if ``plan.data`` holds none; True if it generated.
    Raises ``ValueError`` if an existing dataset cannot serve the plan (:func:`check_data`).

    The dataset has ``max(plan.sizes)`` training systems, ``plan.n_val`` validation and
    ``plan.n_test`` systems in each test set; with ``plan.placement="random"`` every system is
    rotated (Haar) and translated (Gaussian of scale ``plan.shift``); the generator's defaults
    otherwise.
    """

    if (Path(plan.data) / "train.npz").is_file():
        check_data(plan)
        return False
    sizes = NBodySizes(
        train=max(plan.sizes), val=plan.n_val, test=plan.n_test, more_bodies=plan.n_test
    )
    config = NBodyConfig(placement=plan.placement, shift_std=plan.shift)
    splits, meta = generate_dataset(config, sizes, seed=0, progress=progress)
    write_dataset(plan.data, splits, meta)
    return True


def _other_settings(plan: StudyPlan, model: str, size: int, seed: int) -> str | None:
    """What differs (``"key: old -> new"``) when the run's folder holds a run made with other
    settings, one that running the plan would delete; else None."""
    run_dir = plan.run_dir(model, size, seed)
    saved = run_dir / "config.yaml"
    if not saved.is_file() or _finished(plan, model, size, seed):
        return None
    config = load_config(_stamp(plan, model, size, seed)["config"])
    if not (run_dir / "checkpoints" / LAST).is_file():
        return None  # killed before its first checkpoint: nothing to keep, it starts again
    try:
        check_resume_changes(load_config(saved), config)
    except (ConfigError, OSError, ValueError) as error:
        return str(error).split(": ", 1)[-1]
    return None  # the same settings (a run with older tokens is trained again, as a code change)


def check_existing(plan: StudyPlan, overwrite: bool = False) -> None:
    """Refuse (``ValueError``, nothing written) to replace runs in ``plan.out`` made with other
    settings, unless ``overwrite``; finished runs of these settings are reused, unfinished ones
    resumed."""
    if overwrite:
        return
    for job in plan.jobs():
        differs = _other_settings(plan, *job)
        if differs is not None:
            raise ValueError(
                f"{plan.run_dir(*job)} was trained with other settings ({differs}); pass "
                f"--overwrite to train it again, or choose another --out"
            )


def study(
    plan: StudyPlan, command: str, *, progress: bool = True, overwrite: bool = False
) -> dict[str, Any]:
    """Run the whole study: data (if missing), every run, costs, then the table and the plot.

    Runs already in ``plan.out`` are reused (finished, same settings) or resumed; one made with
    other settings is refused before anything is written unless ``overwrite``.
    Returns ``{"paths": {...}, "results": [...], "costs": {...}, "failed": [...]}``; raises
    ``RuntimeError`` when every run failed.
    """
    check_existing(plan, overwrite)
    if ensure_data(plan, progress=progress):
        print(f"generated the n-body dataset in {plan.data}")
    jobs = plan.jobs()
    reused = sum(_finished(plan, *job) for job in jobs)
    if reused:
        print(f"reusing {reused} finished runs of {len(jobs)} in {plan.out} (delete it to retrain)")
    with Progress(len(jobs), desc="runs", unit="run", enabled=progress) as bar:

        def report(result: dict[str, Any], done: int, total: int) -> None:
            where = f"{result['model']:>16} n={result['size']:<6} seed {result['seed']}"
            if "error" in result:
                bar.write(f"{where}: FAILED\n{result['error']}")
            else:
                test = result["test"]["test"]["mse"]
                bar.write(f"{where}: test MSE {test:.3e} ({result['train_seconds']:.0f} s)")
            bar.update()

        everything = run_study(plan, report)
    results = [r for r in everything if "error" not in r]
    failed = [r for r in everything if "error" in r]
    if not results:
        raise RuntimeError(f"every run of the study failed; the first: {failed[0]['error']}")
    models = [m for m in plan.models if any(r["model"] == m for r in results)]
    costs = {model: measure_cost(plan, model) for model in models}

    labels = {m: plan.spec(m).label for m in models}
    baselines = baseline_errors(plan.data)
    paths = write_report(plan.out, results, costs, labels, plan.to_dict(), command, baselines)
    return {"paths": paths, "results": results, "costs": costs, "failed": failed}
