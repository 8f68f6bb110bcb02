"""`noether slmc`: self-learning Monte Carlo for the double-exchange model (Nagai & Tomiya).

The options are the fields of :class:`noether.studies.slmc.plan.SLMCPlan`; the study is
:func:`noether.studies.slmc.run.run`. See docs/slmc.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from noether.studies.slmc.plan import SLMCPlan
from noether.studies.slmc.run import run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--L", type=int, default=6, help="lattice size L (L x L sites, periodic); 6, 8, 10")
    add("--t", type=float, default=1.0, help="hopping (the energy unit)")
    add("--J", type=float, default=4.0, help="spin-fermion coupling J")
    add("--mu", type=float, default=-3.0, help="chemical potential")
    add("--T", type=float, default=0.03, help="temperature of the layer study")
    add("--max-layers", type=int, default=6, help="models with 0 .. max-layers attention layers")
    add("--heads", type=int, default=2, help="attention heads per layer")
    add("--chains", type=int, default=16, help="independent chains run as one batch")
    add("--n-inner", type=int, default=None, help="effective-model updates per exact test (2N)")
    add("--rounds", type=int, default=2, help="rounds of the self-learning loop per model")
    add("--scale", type=float, default=1.0, help="multiply every sweep/step count (longer runs)")
    add("--ref-sweeps", type=int, default=150, help="reference sweeps recorded (training data)")
    add("--train-steps", type=int, default=500, help="AdamW steps per round")
    add("--slmc-steps", type=int, default=200, help="recorded SLMC updates in the last round")
    add(
        "--temperatures",
        type=str,
        default="0.02,0.05,0.08",
        help="extra temperatures of the magnetisation scan (comma-separated; '' for none)",
    )
    add("--scan-sweeps", type=int, default=80, help="reference sweeps per scan temperature")
    add("--threads", type=int, default=1, help="torch threads (1 is fastest for these sizes)")
    add("--seed", type=int, default=0)
    add("--out", type=Path, default=Path("runs/slmc"), help="output folder")


def plan_of(args: argparse.Namespace) -> SLMCPlan:
    """The plan the parsed options describe."""
    names = SLMCPlan.__dataclass_fields__
    return SLMCPlan(**{k: v for k, v in vars(args).items() if k in names})


def main(args: argparse.Namespace) -> int:
    plan = plan_of(args)
    try:
        plan.check()
    except ValueError as err:
        print(f"noether slmc: {err}")
        return 2
    recorded = {k: str(v) for k, v in vars(args).items() if not k.startswith("_")}
    run(plan, recorded)
    return 0
