"""`noether study algebras`: EGA, PGA, iPGA and CGA GATr against the Transformer on n-body.

See docs/nbody.md for the measured table and :mod:`noether.studies.algebras` for the design.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass

from noether.commands.options import add_options, config_from_args
from noether.studies.algebras.plan import MODELS, PRESETS, WIDTHS, StudyPlan, preset
from noether.studies.algebras.run import check_data, study

PLAN_HELP = {
    "data": "n-body dataset folder, generated if missing",
    "out": "output folder",
    "models": f"models of the study, of {', '.join(MODELS)}",
    "sizes": "training-set sizes, e.g. 100,1000,10000",
    "steps": "optimiser steps per run",
    "batch_size": "systems per step",
    "lr": "peak learning rate of AdamW",
    "placement": "random: every system rotated and translated, so the symmetry varies in the "
    "data (the study's design); canonical: star at the origin, orbits near the x-y plane (the "
    "design before issue 24, for comparisons with it)",
    "shift": "placement of the data's systems: Haar rotation and Gaussian translation of this "
    "scale (the dataset is generated with it; augmentation draws from the same distribution)",
    "eval_every": "steps between validations",
    "n_val": "validation systems",
    "n_test": "systems of each test set",
    "width": "model size",
    "workers": "runs in parallel, one thread each (0: in this process)",
}


@dataclass(frozen=True)
class AlgebrasRun:
    """How ``noether study algebras`` runs; the study itself is a
    :class:`~noether.studies.algebras.StudyPlan`.

    Attributes:
        preset: the plan whose fields the other options replace. default: about 70 minutes on
            the 2-core machine (docs/nbody.md); large: closer to the paper (a GPU or a day of
            CPU); quick: the `noether run` job. The defaults shown below are the default preset's.
        seeds: seeds per model and size, 0 to N-1; none: the preset's.
        progress: show the progress bar.
        overwrite: train again runs in the output folder made with other settings (without it
            they are refused; runs of the same settings are reused or resumed).
    """

    preset: str = "default"
    seeds: int | None = None
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.seeds is not None and self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    seeds = len(StudyPlan().seeds)
    add_options(
        parser,
        AlgebrasRun,
        choices={"preset": tuple(PRESETS)},
        help={
            "seeds": f"seeds per model and size, 0 to N-1; none: the preset's ({seeds} in default)"
        },
    )
    add_options(
        parser,
        StudyPlan,
        exclude=("seeds", "specs"),
        choices={"width": tuple(WIDTHS), "placement": ("random", "canonical")},
        help=PLAN_HELP,
        overrides=True,
    )


def main(args: argparse.Namespace) -> int:
    run = config_from_args(args, AlgebrasRun)
    seeds = {} if run.seeds is None else {"seeds": tuple(range(run.seeds))}
    plan = config_from_args(
        args, StudyPlan, build=lambda **fields: preset(run.preset, **fields), **seeds
    )
    try:
        check_data(plan)
    except ValueError as error:
        print(f"noether study algebras: error: {error}", file=sys.stderr)
        return 2
    command = "noether " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else ""
    start = time.perf_counter()
    print(
        f"algebra study ({run.preset}): {len(plan.models)} models x {len(plan.sizes)} sizes x "
        f"{len(plan.seeds)} seeds = {len(plan.jobs())} runs of {plan.steps} steps, "
        f"{plan.workers} at a time; output in {plan.out}"
    )
    out = study(
        plan, command or "noether study algebras", progress=run.progress, overwrite=run.overwrite
    )
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
