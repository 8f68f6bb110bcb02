"""`noether run`: the main job on its built-in default, a small but real algebra study.

It generates a small n-body dataset if it is missing (1,000 training systems, every system
randomly rotated and translated), trains iPGA-GATr and the Transformer of the same parameter
count on it for the same number of steps and three seeds (in parallel, one thread each), and
prints side by side their parameters, training FLOPs per token, time per step and errors (median
and every seed) on the test, rotated, translated and larger test sets, their equivariance errors,
what the comparison can and cannot conclude at this budget, and the path of the plot it wrote.
The full comparison is ``noether study algebras`` (docs/nbody.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from noether.commands.options import add_options, config_from_args
from noether.sims.nbody.eval import equivariance_errors
from noether.sims.nbody.task import horizon_of, load_systems
from noether.studies.algebras.plan import WIDTHS, preset
from noether.studies.algebras.run import check_data, study
from noether.train.trained import load_trained_model

_SETS = ("test", "test_rotated", "test_translated", "test_more_bodies")
_QUICK = preset("quick")


@dataclass(frozen=True)
class RunOptions:
    """What ``noether run`` may change of the quick preset of the algebra study.

    Attributes:
        data: dataset folder, generated if missing.
        out: output folder.
        steps: optimiser steps.
        size: training systems.
        width: model size.
        workers: runs in parallel (0: in this process).
        progress: show progress bars.
    """

    data: str = _QUICK.data
    out: str = _QUICK.out
    steps: int = _QUICK.steps
    size: int = _QUICK.sizes[0]
    width: str = _QUICK.width
    workers: int = 2
    progress: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, RunOptions, choices={"width": tuple(WIDTHS)})


SET_NAMES = {
    "test": "test",
    "test_rotated": "rotated",
    "test_translated": "translated by 20 (unseen)",
    "test_more_bodies": "more bodies (unseen)",
}


def _row(name: str, values: list[str]) -> str:
    return f"  {name:<28}" + "".join(f"{v:>36}" for v in values)


def _cell(values: list[float]) -> str:
    ordered = sorted(values)
    every = " ".join(f"{v:.1e}" for v in values)
    return f"{ordered[len(ordered) // 2]:.2e} [{every}]"


def conclusions(
    runs: dict[str, list[dict]], labels: list[str], plan, costs: dict[str, dict] | None = None
) -> list[str]:
    """What the quickstart's numbers decide and what they cannot, as printable lines."""
    names = dict(zip(plan.models, labels, strict=True))
    tests = {m: [r["test"]["test"]["mse"] for r in rs] for m, rs in runs.items()}
    lines = ["What this run can conclude:"]
    if len(plan.models) == 2 and all(tests.values()):
        a, b = plan.models
        if max(tests[a]) < min(tests[b]) or max(tests[b]) < min(tests[a]):
            better, worse = (a, b) if max(tests[a]) < min(tests[b]) else (b, a)
            ratio = (
                sorted(tests[worse])[len(tests[worse]) // 2]
                / sorted(tests[better])[len(tests[better]) // 2]
            )
            lines.append(
                f"  - on these randomly placed systems, {names[better]} beats {names[worse]} on "
                f"every seed ({len(tests[better])} each; medians {ratio:.1f}x apart), at equal "
                f"parameters, {plan.steps} steps and {plan.sizes[0]} training systems."
            )
        else:
            lines.append(
                f"  - the seeds of {names[a]} and {names[b]} overlap: which is more accurate is "
                f"not decided at this budget."
            )
    if costs and len(plan.models) == 2:
        a, b = plan.models
        time = costs[a]["step_seconds"] / costs[b]["step_seconds"]
        flops = costs[a]["flops_per_token"] / costs[b]["flops_per_token"]
        lines.append(
            f"  - per step {names[a]} takes {time:.1f}x the time and {flops:.1f}x the FLOPs of "
            f"{names[b]}: the comparison is at equal steps and parameters, not equal compute."
        )
    lines += [
        "What it cannot conclude:",
        "  - sample efficiency or scaling: one training-set size, one budget, small models;",
        "  - equal FLOPs, which algebra is best, the augmented baseline: run",
        "    `noether study algebras` (docs/nbody.md has its measured tables and plots).",
    ]
    return lines


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    options = config_from_args(args, RunOptions)
    try:
        plan = preset(
            "quick",
            data=options.data,
            out=options.out,
            steps=options.steps,
            sizes=(options.size,),
            eval_every=max(1, min(options.steps // 5, 200)),
            width=options.width,
            workers=options.workers,
        )
        check_data(plan)
    except ValueError as error:
        print(f"noether run: error: {error}", file=sys.stderr)
        return 2
    labels = [plan.spec(m).label for m in plan.models]
    print(
        f"noether run: {' and '.join(labels)} on gravitational n-body, {plan.sizes[0]} training "
        f"systems, {plan.steps} steps each (the full comparison: noether study algebras)"
    )
    out = study(plan, "noether run", progress=options.progress)
    if out["failed"]:
        for r in out["failed"]:
            print(f"noether run: {r['model']} failed:\n{r['error']}", file=sys.stderr)
        return 1
    runs = {
        m: sorted((r for r in out["results"] if r["model"] == m), key=lambda r: r["seed"])
        for m in plan.models
    }
    batch = {k: v[:16] for k, v in load_systems(plan.data, "test").items()}
    equivariance = {}
    for model in plan.models:
        trained = load_trained_model(runs[model][0]["run_dir"])
        equivariance[model] = equivariance_errors(trained, batch, horizon_of(plan.data))

    costs = out["costs"]
    print()
    print(_row("", labels))
    print(_row("parameters", [f"{costs[m]['parameters']:,}" for m in plan.models]))
    flops = [f"{costs[m]['flops_per_token'] / 1e3:,.0f}k" for m in plan.models]
    print(_row("training FLOPs / token", flops))
    ms = [f"{1e3 * costs[m]['step_seconds']:.1f}" for m in plan.models]
    print(_row(f"ms / step (batch {plan.batch_size})", ms))
    seeds = len(plan.seeds)
    print(f"  mean squared error of the final positions: median of {seeds} seeds [every seed]")
    for name in _SETS:
        values = [_cell([r["test"][name]["mse"] for r in runs[m]]) for m in plan.models]
        print(_row(SET_NAMES[name], values))
    print("  equivariance error (largest change of a prediction, float64, seed 0)")
    for group in ("rotation", "reflection", "translation"):
        print(_row(group, [f"{equivariance[m][group]:.1e}" for m in plan.models]))
    print()
    for line in conclusions(runs, labels, plan, costs):
        print(line)
    print()
    print(f"plot:  {out['paths']['plot']}")
    print(f"table: {out['paths']['table']}")
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min")
    return 0
