"""`noether study polyget`: force-only against joint ET training on polymer families.

See docs/polyget.md for the measured tables and :mod:`noether.studies.polyget` for the design.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from noether.studies.polyget.plan import PRESETS, preset


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="default",
        help="default: under an hour on 2 shared cores; large: a 6x128 ET, 30k steps, 50 ps MD "
        "(many hours); quick: a pipeline check",
    )
    parser.add_argument("--data", help="noether data polymers file (data/polymers/polymers.h5)")
    parser.add_argument("--out", help="output folder (runs/study-polyget)")
    parser.add_argument("--held-out", type=_names, help="families never trained on (pp,pla,nylon6)")
    parser.add_argument("--models", type=_names, help="force-only,joint")
    parser.add_argument("--train-units", type=int, help="oligomer length trained on (2)")
    parser.add_argument("--long-units", type=int, help="longer oligomer length tested (3)")
    parser.add_argument("--steps", type=int, help="optimiser steps per model (1000)")
    parser.add_argument("--batch-size", type=int, help="frames per step (8)")
    parser.add_argument("--lr", type=float, help="peak AdamW learning rate (2e-3)")
    parser.add_argument("--hidden", type=int, help="ET width (64)")
    parser.add_argument("--layers", type=int, help="ET layers (3)")
    parser.add_argument(
        "--md-temperatures", type=_floats, help="Langevin temperatures, K (300,500)"
    )
    parser.add_argument("--md-steps", type=int, help="MD steps per run (1000)")
    parser.add_argument("--md-timestep", type=float, help="MD timestep, fs (0.5)")
    parser.add_argument(
        "--md-compile",
        action="store_const",
        const=True,
        help="run the MD through torch.compile (about 1.4x faster steps after a compile of a "
        "minute or two; worth it from about 5,000 steps)",
    )
    parser.add_argument("--seed", type=int, help="training and MD seed (0)")
    parser.add_argument(
        "--workers", type=int, help="trainings / MD runs in parallel, one thread each (2)"
    )


def main(args: argparse.Namespace) -> int:
    from noether.studies.polyget.run import study

    try:
        plan = preset(
            args.preset,
            data=args.data,
            out=args.out,
            held_out=args.held_out,
            models=args.models,
            train_units=args.train_units,
            long_units=args.long_units,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            hidden=args.hidden,
            layers=args.layers,
            md_temperatures=args.md_temperatures,
            md_steps=args.md_steps,
            md_timestep=args.md_timestep,
            md_compile=args.md_compile,
            seed=args.seed,
            workers=args.workers,
        )
    except (ValueError, TypeError) as error:
        print(f"noether study polyget: error: {error}", file=sys.stderr)
        return 2
    command = "noether " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    start = time.perf_counter()
    print(
        f"PolyGET study ({args.preset}): {', '.join(plan.models)} on {plan.data}, held out "
        f"{', '.join(plan.held_out)}; {plan.steps} steps each; output in {plan.out}",
        flush=True,
    )
    try:
        out = study(plan, command or "noether study polyget", log=lambda s: print(s, flush=True))
    except (ValueError, FileNotFoundError, KeyError) as error:
        print(f"noether study polyget: error: {error}", file=sys.stderr)
        return 2
    print()
    print(out["paths"]["table"].read_text())
    for name in ("table", "results", "forces", "md", "structure"):
        print(f"{name}: {out['paths'][name]}")
    print(f"wall time: {(time.perf_counter() - start) / 60:.1f} min")
    return 0
