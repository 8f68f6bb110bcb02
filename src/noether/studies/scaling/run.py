"""The sweep behind ``noether scaling``: check, make the data, run the chains in parallel, fit.

:func:`prepare` refuses a bad spec before anything runs (unknown family, empty or single-valued
range, a model size the model rejects, a folder that holds another sweep), makes the data with
``noether data rigid`` (resumable) and writes ``spec.json``. :func:`run_chains` runs every chain in
its own process (``workers`` at a time, longest first), each writing finished points that a
re-run skips. :func:`collect` reads the results for :mod:`~noether.studies.scaling.analysis`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from noether.core.io import atomic_write_json
from noether.core.progress import Progress
from noether.core.registry import lookup
from noether.gatr.flops import training_flops
from noether.sims.rigid.scenes import RigidConfig
from noether.sims.rigid.shards import RigidShards
from noether.sims.rigid.simulator import generate
from noether.sims.rigid.task import RigidTask, masked_mse
from noether.studies.scaling.plan import FAMILIES, Chain, SweepSpec, plan
from noether.studies.scaling.runner import RESULT, SPEC, read_spec

__all__ = ["chain_cost", "collect", "prepare", "run_chains", "step_seconds"]


def _check_models(spec: SweepSpec, points_per_body: int) -> dict[str, dict[str, float]]:
    """Build every model size once (a bad keyword fails here); FLOPs per sample by family/size."""

    costs: dict[str, dict[str, float]] = {}
    for family in spec.families:
        cls = lookup("model", FAMILIES[family]["model"])
        costs[family] = {}
        for size, kwargs in spec.sizes(family).items():
            try:
                model = cls(points_per_body=points_per_body, **kwargs)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{family} size {size!r} {kwargs}: {error}") from None
            batch = spec.batch_size
            costs[family][size] = training_flops(model.net, batch, 8).total / batch
    return costs


def prepare(
    sweep: Path,
    spec: SweepSpec,
    *,
    data: Path | None = None,
    data_workers: int = 2,
    progress: bool = True,
) -> Path:
    """Validate, make the data (or check the given folder), write ``spec.json``; returns the
    data folder."""

    spec.validate()
    sweep.mkdir(parents=True, exist_ok=True)
    spec_path = sweep / SPEC
    given = data is not None
    data = Path(data) if given else sweep / "data"
    if spec_path.is_file():
        saved = json.loads(spec_path.read_text())
        if (
            SweepSpec(**saved["spec"]).to_dict() != spec.to_dict()
            or Path(saved["data"]) != data.resolve()
        ):
            raise ValueError(
                f"{sweep} holds a sweep with another spec or data folder ({spec_path}); "
                f"resume it with the same settings or choose another --out"
            )
    if given:
        shards = RigidShards(data)
        if len(shards) < spec.n_scenes:
            raise ValueError(
                f"--data {data} holds {len(shards)} scenes; this sweep needs {spec.n_scenes} "
                f"(test + validation + the largest training set)"
            )
        points_per_body = int(shards.config["points_per_body"])
    else:
        config = RigidConfig()
        points_per_body = config.points_per_body
    _check_models(spec, points_per_body)
    if not given:
        generate(
            data,
            config,
            spec.n_scenes,
            seed=spec.data_seed,
            workers=data_workers,
            scenes_per_shard=1000,
            progress=progress,
        )
    atomic_write_json(spec_path, {"spec": spec.to_dict(), "data": str(data.resolve())})
    return data


def step_seconds(spec: SweepSpec, data: Path, threads: int = 1) -> dict[str, dict[str, float]]:
    """Seconds per training step of every family and size, timed on a batch of the data (best
    of three steps after a warm-up): the cost model that orders the chains and the time estimate."""
    import time

    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    task = RigidTask(str(data), train_scenes=spec.batch_size, val_scenes=1, test_scenes=0)
    train = task.datasets().train
    batch = task.collate([train[i] for i in range(spec.batch_size)])
    points = task.data_shape()[1]
    out: dict[str, dict[str, float]] = {}
    for family in spec.families:
        cls = lookup("model", FAMILIES[family]["model"])
        out[family] = {}
        for size, kwargs in spec.sizes(family).items():
            model = cls(points_per_body=points, **kwargs)
            optimizer = torch.optim.AdamW(model.parameters())
            times = []
            for _ in range(4):
                start = time.perf_counter()
                loss = masked_mse(model(batch), batch["target"], batch["mask"])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                times.append(time.perf_counter() - start)
            out[family][size] = min(times[1:])
    torch.set_num_threads(previous)
    return out


CHAIN_OVERHEAD = 15.0
"""Seconds a chain costs besides its steps (process start, setup, checkpoints, evaluation)."""


def chain_cost(chain: Chain, seconds: dict[str, dict[str, float]]) -> float:
    """Estimated seconds to train and evaluate a chain."""
    return seconds[chain.family][chain.size] * max(chain.steps) + CHAIN_OVERHEAD * len(chain.steps)


def _done(sweep: Path, chain: Chain) -> int:
    return sum((sweep / "runs" / p.name / RESULT).is_file() for p in chain.points)


def run_chains(
    sweep: Path,
    spec: SweepSpec,
    *,
    workers: int = 2,
    threads: int = 1,
    progress: bool = True,
    only: str | None = None,
) -> list[str]:
    """Run every unfinished chain (or only the chain named ``only``), ``workers`` processes at a
    time, the longest first; returns the names of the chains that failed."""

    chains = plan(spec)
    if only is not None:
        # One job of an array: no ordering to do, so no timing of every model on this CPU.
        todo = [c for c in chains if c.name == only and _done(sweep, c) < len(c.points)]
        print(f"{len(todo)} chain(s) to run: {only}", flush=True)
    else:
        seconds = step_seconds(spec, read_spec(sweep)[1], threads)
        chains.sort(key=lambda c: -chain_cost(c, seconds))
        todo = [c for c in chains if _done(sweep, c) < len(c.points)]
        estimate = sum(chain_cost(c, seconds) for c in todo) / min(workers, max(len(todo), 1))
        print(
            f"{len(todo)} chain(s) to run on {workers} process(es); estimated {estimate / 60:.0f} "
            f"min at the measured speed (more if the cores are shared)",
            flush=True,
        )
    total = sum(len(c.points) for c in chains)
    (sweep / "logs").mkdir(exist_ok=True)
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        MPLBACKEND="Agg",
        PYTHONUNBUFFERED="1",
    )
    failed: list[str] = []
    bar = Progress(
        total,
        initial=total - sum(len(c.points) - _done(sweep, c) for c in todo),
        desc="sweep points",
        unit="run",
        enabled=progress,
    )

    def run(chain: Chain) -> None:
        log = sweep / "logs" / f"{chain.name}.log"
        command = [sys.executable, "-m", "noether.studies.scaling.runner", str(sweep), chain.name]
        with open(log, "a") as out:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=out, text=True, env=env
            )
            for line in process.stdout:
                out.write(line)
                out.flush()
                if line.startswith("done ") and "finished before" not in line:
                    bar.update(1)
            if process.wait() != 0:
                failed.append(chain.name)
                bar.write(f"chain {chain.name} failed; see {log}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, todo))
    bar.close()
    return failed


def collect(sweep: Path) -> list[dict]:
    """Every finished point's result, sorted by name."""
    results = [json.loads(p.read_text()) for p in sorted((sweep / "runs").glob(f"*/{RESULT}"))]
    return sorted(results, key=lambda r: r["point"])
