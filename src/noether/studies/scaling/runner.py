"""Running one chain of a sweep: train, continue, evaluate; resumable at every point.

A sweep folder holds ``spec.json`` (the sweep and its data folder), ``runs/<point>/`` (one run
folder of the training stack per point, plus ``result.json`` when the point is finished) and
``logs/<chain>.log``. :func:`run_chain` takes the points of a chain in order of steps:

- a point with ``result.json`` is done and skipped;
- a point whose folder has a checkpoint was interrupted: it resumes (exactly) to its steps;
- otherwise it starts from the previous point's folder (copied to a temporary folder that is
  renamed when complete, then continued), or from scratch for the first point.

Run it in its own process: ``python -m noether.studies.scaling.runner SWEEP_DIR CHAIN``.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from noether.core.io import atomic_write_json
from noether.gatr.flops import training_flops
from noether.sims.rigid.shards import RigidShards
from noether.studies.scaling.plan import FAMILIES, Chain, Point, SweepSpec, plan
from noether.train.checkpoints import LAST
from noether.train.config import build, load_config
from noether.train.run import train
from noether.train.trained import load_trained_model

__all__ = ["RESULT", "evaluate_point", "point_config", "read_spec", "run_chain"]

RESULT = "result.json"
SPEC = "spec.json"
_COPIED = ("config.yaml", "meta.json", "splits.npz", "metrics.csv", "checkpoints/last.ckpt")


def read_spec(sweep: Path) -> tuple[SweepSpec, Path]:
    """The sweep's spec and data folder, from ``spec.json``."""
    raw = json.loads((sweep / SPEC).read_text())
    return SweepSpec(**raw["spec"]).validate(), Path(raw["data"])


def _transitions_per_scene(data: Path) -> int:

    return int(RigidShards(data).config["n_frames"]) - 1


def point_config(spec: SweepSpec, chain: Chain, data: Path, steps: int) -> dict[str, Any]:
    """The training config of a chain's point (``steps`` optimiser steps)."""
    family = FAMILIES[chain.family]
    epochs = max(chain.steps) * spec.batch_size / (chain.scenes * _transitions_per_scene(data))
    return {
        "seed": spec.seed,
        "model": {"name": family["model"], **spec.sizes(chain.family)[chain.size]},
        "task": {
            "name": "rigid",
            "path": str(data),
            "train_scenes": chain.scenes,
            "val_scenes": spec.val_scenes,
            "test_scenes": spec.test_scenes,
            "augment": family["augment"],
        },
        "data": {"batch_size": spec.batch_size, "eval_batch_size": 128},
        "optim": {"name": "adamw", "lr": spec.lr, "clip_grad_norm": 1.0},
        "schedule": {"name": "constant", "warmup_steps": spec.warmup_steps},
        "trainer": {
            "max_epochs": 10**9,
            "max_steps": steps,
            "val_every_n_epochs": max(1, math.ceil(epochs / spec.evaluations)),
            "log_every_n_steps": 10,
            "progress_bar": False,
            "precision": spec.precision,
        },
    }


def _masked_sums(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[float, int]:
    weight = mask[..., None, None].to(pred.dtype)
    return float(((pred - target) ** 2 * weight).sum()), int(weight.sum()) * pred.shape[-2] * 3


@torch.no_grad()
def evaluate_point(run_dir: Path) -> dict[str, float]:
    """Test MSE (cm^2) of a run's final weights on the test set and on the test set moved by fixed
    rigid motions, exact over all real bodies."""

    task = build(load_config(run_dir / "config.yaml").task, "task")
    model = load_trained_model(run_dir, prefer=LAST)
    cm2 = (100.0 * task.length_scale) ** 2
    out = {}
    for name, moved in (("test_mse", False), ("test_mse_moved", True)):
        dataset = task.test_set(transformed=moved)
        loader = torch.utils.data.DataLoader(dataset, batch_size=128, collate_fn=task.collate)
        total, count = 0.0, 0
        for batch in loader:
            s, c = _masked_sums(model(batch), batch["target"], batch["mask"])
            total, count = total + s, count + c
        out[name] = total / count * cm2
    return out


def _val_curve(run_dir: Path, cm2: float) -> list[dict[str, float]]:
    """Validation MSE (cm^2) after each validated epoch (``epoch`` counts from 1)."""
    rows = []
    with open(run_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("val/loss"):
                rows.append(
                    {"epoch": int(row["epoch"]) + 1, "val_mse": float(row["val/loss"]) * cm2}
                )
    return rows


def _global_step(checkpoint: Path) -> int:
    return int(
        torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)["global_step"]
    )


def _copy_run(source: Path, target: Path) -> None:
    """``source``'s resumable files into ``target``, which appears whole or not at all."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name in _COPIED:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, tmp / name)
    tmp.rename(target)


def _train_point(
    spec: SweepSpec, chain: Chain, data: Path, point: Point, folder: Path, previous: Path | None
) -> str:

    checkpoint = folder / "checkpoints" / "last.ckpt"
    if folder.exists() and not checkpoint.is_file():
        shutil.rmtree(folder)  # killed before its first checkpoint: nothing to keep
    if checkpoint.is_file():
        if _global_step(checkpoint) < point.steps:
            train(None, {"trainer.max_steps": point.steps}, resume=folder)
        return "resumed"
    if previous is not None:
        _copy_run(previous, folder)
        train(None, {"trainer.max_steps": point.steps}, resume=folder)
        return f"continued from {previous.name}"

    config = load_config(point_config(spec, chain, data, point.steps), {"run.dir": str(folder)})
    train(config)
    return "fresh"


def run_chain(sweep: Path, chain_name: str, log=print) -> list[Path]:
    """Train and evaluate every unfinished point of ``chain_name``; returns the result files."""

    spec, data = read_spec(sweep)
    chains = {c.name: c for c in plan(spec)}
    if chain_name not in chains:
        raise ValueError(f"no chain {chain_name!r} in {sweep}; chains: {', '.join(chains)}")
    chain = chains[chain_name]
    previous, results = None, []
    for point in chain.points:
        folder = sweep / "runs" / point.name
        result_path = folder / RESULT
        if result_path.is_file():
            previous = folder
            results.append(result_path)
            log(f"done {point.name} (finished before)")
            continue
        start = time.perf_counter()
        how = _train_point(spec, chain, data, point, folder, previous)
        seconds = time.perf_counter() - start
        config = load_config(folder / "config.yaml")
        model = build(config.model, "model")
        task = build(config.task, "task")
        tokens = task.data_shape()[0]
        params = sum(p.numel() for p in model.parameters())
        batch = spec.batch_size
        flops = {
            mode: training_flops(
                model.net, batch, tokens, {"dense": "nominal"}.get(mode, "intrinsic")
            ).total
            / batch
            for mode in (("dense", "structured") if chain.family == "gatr" else ("structured",))
        }
        if "dense" not in flops:
            flops["dense"] = flops["structured"]
        samples = point.steps * spec.batch_size
        result = {
            "point": point.name,
            "family": point.family,
            "size": point.size,
            "model": config.model.to_dict(),
            "steps": point.steps,
            "scenes": point.scenes,
            "batch_size": spec.batch_size,
            "samples": samples,
            "epochs": samples / (point.scenes * _transitions_per_scene(data)),
            "params": params,
            "tokens": tokens,
            "flops_per_sample": flops,
            "compute": {k: v * samples for k, v in flops.items()},
            **evaluate_point(folder),
            "val_curve": _val_curve(folder, (100.0 * task.length_scale) ** 2),
            "how": how,
            "train_seconds": seconds,
        }
        atomic_write_json(result_path, result)
        previous = folder
        results.append(result_path)
        log(f"done {point.name} test_mse {result['test_mse']:.4g} cm^2 ({seconds:.0f} s, {how})")
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m noether.studies.scaling.runner SWEEP_DIR CHAIN", file=sys.stderr)
        return 2
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    run_chain(Path(argv[0]), argv[1], log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
