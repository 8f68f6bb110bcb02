"""`noether study finetune`: an ET fine-tuned on a new molecule against one trained from scratch.

See the fine-tuning section of docs/training.md for the measured table and
:mod:`noether.studies.finetune` for the design.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from noether.commands.options import add_common_options, add_options, config_from_args
from noether.core.validation import ConfigError
from noether.studies.finetune import run as finetune_runs
from noether.studies.finetune.plan import ARMS, FinetunePlan

PLAN_HELP = {
    "source": "data files of the molecules the source ET trains on",
    "new": "data file of the new molecule (its training and validation frames are drawn here)",
    "test": "an independent trajectory of the new molecule (another MD seed): the test set",
    "out": "output folder",
    "arms": f"of {', '.join(ARMS)}",
    "frames": "training frames of the new molecule",
    "val_frames": "validation frames of the new molecule",
    "seeds": "one training per arm and seed (frames drawn, initialisation, batch order)",
    "hidden": "ET width",
    "layers": "ET layers",
    "heads": "ET attention heads",
    "num_rbf": "ET radial basis functions",
    "cutoff": "ET cutoff, Å",
    "max_z": "size of ET's element tables (atomic numbers below it)",
    "source_steps": "optimiser steps of the source run",
    "steps": "optimiser steps of every run on the new molecule",
    "batch_size": "frames per step",
    "lr": "peak AdamW learning rate of the source and the scratch runs",
    "finetune_lr": "peak AdamW learning rate of the fine-tuned runs",
    "freeze": "parameter-name prefixes the finetune-frozen arm keeps fixed",
    "workers": "trainings in parallel, one thread each",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, FinetunePlan, help=PLAN_HELP, choices={"arms": ARMS})
    add_common_options(parser, progress=False)


def main(args: argparse.Namespace) -> int:
    plan = config_from_args(args, FinetunePlan)
    command = "noether " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    start = time.perf_counter()
    print(
        f"fine-tuning study: source {', '.join(plan.source)}; {plan.frames} frames of "
        f"{plan.new}; test {plan.test}; arms {', '.join(plan.arms)}, seeds "
        f"{', '.join(map(str, plan.seeds))}; output in {plan.out}",
        flush=True,
    )
    try:
        out = finetune_runs.study(
            plan,
            command or "noether study finetune",
            log=lambda s: print(s, flush=True),
            overwrite=args.overwrite,
        )
    except (ValueError, FileNotFoundError, ConfigError) as error:
        print(f"noether study finetune: error: {error}", file=sys.stderr)
        return 2
    print()
    print(out["paths"]["table"].read_text())
    for name in ("table", "results", "figure"):
        print(f"{name}: {out['paths'][name]}")
    print(f"wall time: {(time.perf_counter() - start) / 60:.1f} min")
    return 0
