"""`noether study polyget`: force-only against joint ET training on polymer families.

See docs/polyget.md for the measured tables and :mod:`noether.studies.polyget` for the design.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass

from noether.commands.options import add_common_options, add_options, config_from_args
from noether.studies.polyget import run as polyget_runs
from noether.studies.polyget.plan import MODELS, PRESETS, PolyGETPlan, preset

PLAN_HELP = {
    "data": "noether data polymers file",
    "out": "output folder",
    "held_out": "families never trained on",
    "train_units": "oligomer length trained on",
    "long_units": "longer oligomer length tested",
    "train_fraction": "fraction of the training families' frames trained on",
    "val_fraction": "fraction of the training families' frames validated on",
    "models": f"of {', '.join(MODELS)} (joint: energy and forces)",
    "hidden": "ET width",
    "layers": "ET layers",
    "heads": "ET attention heads",
    "num_rbf": "ET radial basis functions",
    "cutoff": "ET cutoff, Å",
    "steps": "optimiser steps per model",
    "batch_size": "frames per step",
    "lr": "peak AdamW learning rate",
    "seed": "training and MD seed",
    "md_temperatures": "Langevin temperatures, K",
    "md_steps": "MD steps per run",
    "md_timestep": "MD timestep, fs",
    "md_friction": "Langevin friction, 1/fs",
    "md_log_every": "MD steps between logged frames",
    "md_compile": "run the MD through torch.compile (about 1.4x faster steps after a compile of "
    "a minute or two; worth it from about 5,000 steps)",
    "workers": "trainings / MD runs in parallel, one thread each",
}


@dataclass(frozen=True)
class PolyGETRun:
    """How ``noether study polyget`` runs; the study itself is a
    :class:`~noether.studies.polyget.PolyGETPlan`.

    Attributes:
        preset: the plan whose fields the other options replace. default: under an hour on 2
            shared cores; large: a 6x128 ET, 30k steps, 50 ps MD (many hours); quick: a
            pipeline check. The defaults shown below are the default preset's.
    """

    preset: str = "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PolyGETRun, choices={"preset": tuple(PRESETS)})
    add_options(parser, PolyGETPlan, help=PLAN_HELP, overrides=True)
    add_common_options(parser)


def main(args: argparse.Namespace) -> int:
    run = config_from_args(args, PolyGETRun)
    plan = config_from_args(args, PolyGETPlan, build=lambda **fields: preset(run.preset, **fields))
    command = "noether " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    start = time.perf_counter()
    print(
        f"PolyGET study ({run.preset}): {', '.join(plan.models)} on {plan.data}, held out "
        f"{', '.join(plan.held_out)}; {plan.steps} steps each; output in {plan.out}",
        flush=True,
    )
    try:
        out = polyget_runs.study(
            plan,
            command or "noether study polyget",
            log=lambda s: print(s, flush=True),
            overwrite=args.overwrite,
            progress=args.progress,
        )
    except (ValueError, FileNotFoundError, KeyError) as error:
        print(f"noether study polyget: error: {error}", file=sys.stderr)
        return 2
    print()
    print(out["paths"]["table"].read_text())
    for name in ("table", "results", "forces", "md", "structure"):
        print(f"{name}: {out['paths'][name]}")
    print(f"wall time: {(time.perf_counter() - start) / 60:.1f} min")
    return 0
