"""`noether study algebras`: EGA, PGA, iPGA and CGA GATr against the Transformer on n-body.

See docs/nbody.md for the measured table and :mod:`noether.studies.algebras` for the design.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from noether.studies.algebras.plan import PRESETS, WIDTHS, preset
from noether.studies.algebras.run import check_data, study


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="default",
        help="default: about 30 minutes on 2 idle cores (estimated, docs/nbody.md); "
        "large: closer to the paper (hours); "
        "quick: the `noether run` job",
    )
    parser.add_argument("--data", help="n-body dataset folder, generated if missing (data/nbody)")
    parser.add_argument("--out", help="output folder (runs/study-algebras)")
    parser.add_argument(
        "--models",
        type=_names,
        help="comma-separated: ega,pga,ipga,cga,transformer,transformer-aug",
    )
    parser.add_argument("--sizes", type=_ints, help="training-set sizes, e.g. 100,1000,10000")
    parser.add_argument("--seeds", type=int, help="seeds per model and size (3)")
    parser.add_argument("--steps", type=int, help="optimiser steps per run (1500)")
    parser.add_argument("--batch-size", type=int, help="systems per step (32)")
    parser.add_argument("--lr", type=float, help="peak learning rate of AdamW (1e-3)")
    parser.add_argument("--eval-every", type=int, help="steps between validations (150)")
    parser.add_argument("--width", choices=tuple(WIDTHS), help="model size (small)")
    parser.add_argument(
        "--workers", type=int, help="runs in parallel, one thread each (2; 0: in this process)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args: argparse.Namespace) -> int:
    try:
        plan = preset(
            args.preset,
            data=args.data,
            out=args.out,
            models=args.models,
            sizes=args.sizes,
            seeds=None if args.seeds is None else tuple(range(args.seeds)),
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            eval_every=args.eval_every,
            width=args.width,
            workers=args.workers,
        )
        check_data(plan)
    except (ValueError, TypeError) as error:
        print(f"noether study algebras: error: {error}", file=sys.stderr)
        return 2
    command = "noether " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    start = time.perf_counter()
    print(
        f"algebra study ({args.preset}): {len(plan.models)} models x {len(plan.sizes)} sizes x "
        f"{len(plan.seeds)} seeds = {len(plan.jobs())} runs of {plan.steps} steps, "
        f"{plan.workers} at a time; output in {plan.out}"
    )
    out = study(plan, command or "noether study algebras", progress=not args.no_progress)
    print()
    print(out["paths"]["table"].read_text())
    print(f"table: {out['paths']['table']}")
    print(f"plot:  {out['paths']['plot']}")
    print(f"wall time: {(time.perf_counter() - start) / 60:.1f} min")
    if out["failed"]:
        runs = ", ".join(f"{r['model']} n={r['size']} seed {r['seed']}" for r in out["failed"])
        print(f"{len(out['failed'])} runs failed (rerun to retry them): {runs}", file=sys.stderr)
        return 1
    return 0
