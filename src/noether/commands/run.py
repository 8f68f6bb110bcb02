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

from noether.studies.algebras.plan import WIDTHS, preset
from noether.studies.algebras.run import check_data, study

_SETS = ("test", "test_rotated", "test_translated", "test_more_bodies")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    quick = preset("quick")
    parser.add_argument("--data", default=quick.data, help=f"dataset folder ({quick.data})")
    parser.add_argument("--out", default=quick.out, help=f"output folder ({quick.out})")
    parser.add_argument(
        "--steps", type=int, default=quick.steps, help=f"optimiser steps ({quick.steps})"
    )
    parser.add_argument(
        "--size", type=int, default=quick.sizes[0], help=f"training systems ({quick.sizes[0]})"
    )
    parser.add_argument("--width", choices=tuple(WIDTHS), default=quick.width, help="model size")
    parser.add_argument(
        "--workers", type=int, default=2, help="runs in parallel (2; 0: in this process)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _row(name: str, values: list[str]) -> str:
    return f"  {name:<28}" + "".join(f"{v:>22}" for v in values)


def main(args: argparse.Namespace) -> int:
    from noether.sims.nbody.eval import equivariance_errors, load_trained_model
    from noether.sims.nbody.task import horizon_of, load_systems

    start = time.perf_counter()
    try:
        plan = preset(
            "quick",
            data=args.data,
            out=args.out,
            steps=args.steps,
            sizes=(args.size,),
            eval_every=max(1, min(args.steps // 5, 200)),
            width=args.width,
            workers=args.workers,
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
    out = study(plan, "noether run", progress=not args.no_progress)
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
