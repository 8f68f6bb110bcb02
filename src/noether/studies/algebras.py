"""``noether study algebras``: which geometric algebra makes the best transformer for n-body?

de Haan, Cohen and Brehmer (arXiv 2311.04744) compare GATr over the Euclidean, projective and
conformal algebras. This study trains every model of :data:`MODELS` on the first ``n`` training
systems of an n-body dataset for each ``n`` in ``sizes`` and each seed, all with the same budget
(optimiser steps, batch size, learning-rate schedule), through the training stack (one run folder
per run), and evaluates the best checkpoint (by validation loss) on the test, rotated, translated
and larger test sets. Costs (parameters, FLOPs per token, time per step) are measured once per
model, after the runs, in one thread. :mod:`noether.studies.algebras_report` writes the table
and the plot.

Runs already finished (``result.json`` in their folder) are kept, unfinished ones resume from
their last checkpoint: rerunning the command continues a study.
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from noether.studies.nbody_eval import evaluate_sets, load_trained_model
from noether.studies.nbody_tokens import TOKENS_VERSION
from noether.train.config import Config
from noether.train.files import atomic_write_json

__all__ = [
    "MODELS",
    "PRESETS",
    "ModelSpec",
    "StudyPlan",
    "measure_cost",
    "model_specs",
    "preset",
    "run_one",
    "run_study",
]

RESULT = "result.json"


@dataclass(frozen=True)
class ModelSpec:
    """One model of the study: its ``model:`` config section and whether to augment."""

    label: str
    model: dict[str, Any]
    augment: bool = False
    equivariant: bool = True


def _gatr(algebra: str, mv: int, s: int, blocks: int, heads: int) -> dict[str, Any]:
    return {
        "name": "noether.gatr:GATr",
        "algebra": algebra,
        "hidden_mv_channels": mv,
        "hidden_s_channels": s,
        "num_blocks": blocks,
        "num_heads": heads,
    }


def _transformer(width: int, blocks: int, heads: int) -> dict[str, Any]:
    return {
        "name": "noether.gatr.nets.transformer:Transformer",
        "hidden_channels": width,
        "num_blocks": blocks,
        "num_heads": heads,
    }


WIDTHS = {
    "tiny": {"mv": 2, "s": 4, "blocks": 1, "heads": 1},  # for tests of the pipeline
    # GATr: multivector channels, scalar channels; Transformer: 16 mv + s real channels, as in
    # the GATr paper's n-body baseline (16 mv + 128 s <-> 384).
    "small": {"mv": 8, "s": 32, "blocks": 2, "heads": 4},
    "base": {"mv": 16, "s": 64, "blocks": 4, "heads": 8},
    "paper": {"mv": 16, "s": 128, "blocks": 10, "heads": 8},
}


def model_specs(width: str = "small") -> dict[str, ModelSpec]:
    """The models of the study at one of the :data:`WIDTHS`."""
    w = WIDTHS[width]
    gatr = {k: w[k] for k in ("mv", "s", "blocks", "heads")}
    t = _transformer(16 * w["mv"] + w["s"], w["blocks"], w["heads"])
    return {
        "ega": ModelSpec("EGA-GATr", _gatr("ega", **gatr)),
        "pga": ModelSpec("PGA-GATr", _gatr("pga", **gatr)),
        "ipga": ModelSpec("iPGA-GATr", _gatr("ipga", **gatr)),
        "cga": ModelSpec("CGA-GATr", _gatr("cga", **gatr)),
        "transformer": ModelSpec("Transformer", t, equivariant=False),
        "transformer-aug": ModelSpec("Transformer + aug.", t, augment=True, equivariant=False),
    }


MODELS = tuple(model_specs())


@dataclass(frozen=True)
class StudyPlan:
    """Everything that defines a study (see ``noether study algebras --help``)."""

    data: str = "data/nbody"
    out: str = "runs/study-algebras"
    models: tuple[str, ...] = MODELS
    sizes: tuple[int, ...] = (100, 1000, 10000)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 150
    n_val: int = 250
    n_test: int = 1000
    width: str = "small"
    workers: int = 2
    specs: dict[str, ModelSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.specs:
            object.__setattr__(self, "specs", model_specs(self.width))
        unknown = [m for m in self.models if m not in self.specs]
        if unknown:
            raise ValueError(f"unknown models {unknown}; accepted: {', '.join(self.specs)}")
        checks = {
            "sizes": min(self.sizes, default=0),
            "seeds": len(self.seeds),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "n_val": self.n_val,
            "n_test": self.n_test,
        }
        for name, value in checks.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1 (and non-empty), got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(WIDTHS)}, got {self.width!r}")

    def jobs(self) -> list[tuple[str, int, int]]:
        """``(model, size, seed)`` of every run, the costliest first (large sets, CGA)."""
        order = {m: i for i, m in enumerate(("cga", "ipga", "pga", "transformer-aug"))}
        jobs = [(m, n, s) for m in self.models for n in self.sizes for s in self.seeds]
        return sorted(jobs, key=lambda j: (j[2], order.get(j[0], 9), -j[1]))

    def run_dir(self, model: str, size: int, seed: int) -> Path:
        return Path(self.out) / "runs" / f"{model}-n{size}-s{seed}"

    def config(self, model: str, size: int, seed: int) -> dict[str, Any]:
        """The training config of one run (a mapping for :func:`noether.train.config.load_config`)."""
        spec = self.specs[model]
        epochs = -(-self.steps // self.eval_every)
        return {
            "seed": seed,
            "model": dict(spec.model),
            "task": {
                "name": "nbody",
                "path": self.data,
                "n_train": size,
                "n_val": self.n_val,
                "epoch_size": self.eval_every * self.batch_size,
                "augment": spec.augment,
            },
            "data": {"batch_size": self.batch_size, "eval_batch_size": 250},
            "optim": {"name": "adamw", "lr": self.lr, "clip_grad_norm": 10.0},
            "schedule": {"name": "cosine", "warmup_steps": self.steps // 20, "min_lr_ratio": 0.01},
            "trainer": {
                "max_epochs": epochs,
                "max_steps": self.steps,
                "precision": "32",
                "accelerator": "cpu",
                "devices": 1,
                "num_nodes": 1,
                "progress_bar": False,
                "log_every_n_steps": 10,
            },
            "run": {"dir": str(self.run_dir(model, size, seed))},
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["specs"] = {k: asdict(v) for k, v in self.specs.items() if k in self.models}
        return out


PRESETS: dict[str, dict[str, Any]] = {
    # `noether run`: iPGA-GATr against the Transformer, a few minutes.
    "quick": {
        "data": "data/nbody-quick",
        "out": "runs/quickstart",
        "models": ("ipga", "transformer"),
        "sizes": (1000,),
        "seeds": (0,),
        "steps": 1000,
        "eval_every": 200,
        "n_test": 500,
    },
    # the documented study: about 30 minutes on 2 cores
    "default": {},
    # closer to the paper: more sizes, seeds, steps and a wider model (hours to days on CPU)
    "large": {
        "sizes": (100, 300, 1000, 3000, 10000),
        "seeds": (0, 1, 2, 3, 4),
        "steps": 20000,
        "eval_every": 1000,
        "n_val": 1000,
        "width": "base",
    },
}


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


def _stamp(plan: StudyPlan, model: str, size: int, seed: int) -> dict[str, Any]:
    """What a finished run must match to be reused: its config and the tokens' version."""
    return {"config": plan.config(model, size, seed), "tokens_version": TOKENS_VERSION}


def _resumable(run_dir: Path, config: Config) -> bool:
    """A run folder with a last checkpoint whose config may continue as ``config``."""
    from noether.train.checkpoints import LAST
    from noether.train.config import ConfigError, load_config
    from noether.train.run import check_resume_changes

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
    from noether.train.config import load_config
    from noether.train.run import train

    run_dir = plan.run_dir(model, size, seed)
    done = run_dir / RESULT
    stamp = _stamp(plan, model, size, seed)
    if done.is_file():
        result = json.loads(done.read_text())
        if all(result.get(k) == v for k, v in stamp.items()):
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
    from noether.studies.cost import count_flops, count_parameters, time_per_call
    from noether.studies.nbody_task import NBodyTask
    from noether.train.config import build, load_config

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


def preset(name: str, **overrides: Any) -> StudyPlan:
    """The plan of a preset with some fields replaced (``None`` values are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    plan = StudyPlan(**PRESETS[name])
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "width" in changes:
        changes["specs"] = model_specs(changes["width"])
    return replace(plan, **changes)


def ensure_data(plan: StudyPlan, *, progress: bool = True) -> bool:
    """Generate the plan's n-body dataset if ``plan.data`` holds none; True if it generated.

    The dataset has ``max(plan.sizes)`` training systems, ``plan.n_val`` validation and
    ``plan.n_test`` systems in each test set, with the generator's defaults otherwise.
    """
    from noether.sims.nbody import NBodyConfig
    from noether.sims.nbody_dataset import NBodySizes, generate_dataset, write_dataset

    if (Path(plan.data) / "train.npz").is_file():
        return False
    sizes = NBodySizes(
        train=max(plan.sizes), val=plan.n_val, test=plan.n_test, more_bodies=plan.n_test
    )
    splits, meta = generate_dataset(NBodyConfig(), sizes, seed=0, progress=progress)
    write_dataset(plan.data, splits, meta)
    return True


def study(plan: StudyPlan, command: str, *, progress: bool = True) -> dict[str, Any]:
    """Run the whole study: data (if missing), every run, costs, then the table and the plot.

    Returns ``{"paths": {...}, "results": [...], "costs": {...}, "failed": [...]}``; raises
    ``RuntimeError`` when every run failed.
    """
    from tqdm.auto import tqdm

    from noether.studies.algebras_report import write_report

    if ensure_data(plan, progress=progress):
        print(f"generated the n-body dataset in {plan.data}")
    jobs = plan.jobs()
    reused = sum((plan.run_dir(*job) / RESULT).is_file() for job in jobs)
    if reused:
        print(f"reusing {reused} finished runs of {len(jobs)} in {plan.out} (delete it to retrain)")
    with tqdm(total=len(jobs), desc="runs", unit="run", disable=not progress) as bar:

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
    from noether.studies.nbody_eval import baseline_errors

    labels = {m: plan.specs[m].label for m in models}
    baselines = baseline_errors(plan.data)
    paths = write_report(plan.out, results, costs, labels, plan.to_dict(), command, baselines)
    return {"paths": paths, "results": results, "costs": costs, "failed": failed}
