"""`noether run`: the main job on its built-in default, a small but real algebra study.

It generates a small n-body dataset if it is missing (1,000 training systems), trains iPGA-GATr
and the Transformer on it for the same number of steps (in parallel, one thread each), and prints
side by side their errors on the test, rotated, translated and larger test sets, their
equivariance errors, parameters and time per step, and the path of the plot it wrote. The full
comparison is ``noether study algebras`` (docs/nbody.md).
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


def _row(name: str, values: list[str]) -> str:
    return f"  {name:<28}" + "".join(f"{v:>22}" for v in values)


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
    labels = [plan.specs[m].label for m in plan.models]
    print(
        f"noether run: {' and '.join(labels)} on gravitational n-body, {plan.sizes[0]} training "
        f"systems, {plan.steps} steps each (the full comparison: noether study algebras)"
    )
    out = study(plan, "noether run", progress=options.progress)
    if out["failed"]:
        for r in out["failed"]:
            print(f"noether run: {r['model']} failed:\n{r['error']}", file=sys.stderr)
        return 1
    by_model = {r["model"]: r for r in out["results"]}
    batch = {k: v[:16] for k, v in load_systems(plan.data, "test").items()}
    equivariance = {}
    for model in plan.models:
        trained = load_trained_model(by_model[model]["run_dir"])
        equivariance[model] = equivariance_errors(trained, batch, horizon_of(plan.data))

    print()
    print(_row("", labels))
    print("  mean squared error of the final positions")
    for name in _SETS:
        values = [f"{by_model[m]['test'][name]['mse']:.3e}" for m in plan.models]
        print(_row(name.replace("_", " "), values))
    print("  equivariance error (largest change of a prediction, float64)")
    for group in ("rotation", "reflection", "translation"):
        print(_row(group, [f"{equivariance[m][group]:.1e}" for m in plan.models]))
    print(_row("parameters", [str(out["costs"][m]["parameters"]) for m in plan.models]))
    ms = [f"{1e3 * out['costs'][m]['step_seconds']:.1f}" for m in plan.models]
    print(_row(f"ms / step (batch {plan.batch_size})", ms))
    print()
    print(f"plot:  {out['paths']['plot']}")
    print(f"table: {out['paths']['table']}")
    print(f"done in {(time.perf_counter() - start) / 60:.1f} min")
    return 0
