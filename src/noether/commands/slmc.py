"""`noether slmc`: self-learning Monte Carlo for the double-exchange model (Nagai & Tomiya).

The options are the fields of :class:`noether.studies.slmc.plan.SLMCPlan` (``t`` is
``--hopping``, ``T`` is ``--temperature``; the old ``--t`` and ``--T`` still work, with a
deprecation line); the study is :func:`noether.studies.slmc.run.run`. See docs/slmc.md.
"""

from __future__ import annotations

import argparse

from noether.commands.options import (
    add_common_options,
    add_deprecated_alias,
    add_options,
    config_from_args,
    refuse_overwrite,
)
from noether.studies.slmc.plan import SLMCPlan
from noether.studies.slmc.run import run

FLAGS = {"t": "--hopping", "T": "--temperature"}
"""Options whose names differ from their fields (the physics symbols)."""

HELP = {
    "L": "lattice size L (L x L sites, periodic); 6, 8, 10",
    "t": "hopping t (the energy unit)",
    "J": "spin-fermion coupling J, in units of t",
    "mu": "chemical potential, in units of t",
    "T": "temperature of the layer study, in units of t",
    "max_layers": "models with 0 .. max-layers attention layers",
    "heads": "attention heads per layer",
    "chains": "independent chains run as one batch",
    "n_inner": "effective-model updates per exact test (none: 2N)",
    "rounds": "rounds of the self-learning loop per model",
    "scale": "multiply every sweep/step count (longer runs)",
    "ref_sweeps": "reference sweeps recorded (training data)",
    "train_steps": "AdamW steps per round",
    "slmc_steps": "recorded SLMC updates in the last round",
    "temperatures": "extra temperatures of the magnetisation scan, in units of t "
    "(comma-separated; '' for none)",
    "scan_sweeps": "reference sweeps per scan temperature",
    "threads": "torch threads (1 is fastest for these sizes)",
    "seed": "random seed",
    "out": "output folder",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, SLMCPlan, flags=FLAGS, help=HELP)
    for field, flag in FLAGS.items():
        add_deprecated_alias(parser, f"--{field}", flag)
    add_common_options(parser)


def plan_of(args: argparse.Namespace) -> SLMCPlan:
    """The plan the parsed options describe."""
    return config_from_args(args, SLMCPlan)


def main(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    plan.check()  # a ValueError: one line and status 2 (noether.cli), before anything is written
    refuse_overwrite(args, plan.out)
    recorded = {k: str(v) for k, v in vars(args).items() if not k.startswith("_")}
    run(plan, recorded, progress=args.progress)
    return 0
