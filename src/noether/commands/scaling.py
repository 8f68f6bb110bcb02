"""`noether scaling`: the scaling-law study, GATr against the Transformer on rigid bodies."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from noether.commands.options import add_options, config_from_args
from noether.studies.scaling.plan import load_spec, plan
from noether.studies.scaling.report import finish
from noether.studies.scaling.run import prepare, run_chains
from noether.studies.scaling.runner import SPEC


@dataclass(frozen=True)
class ScalingRun:
    """What ``noether scaling`` does; the sweep itself is the preset's spec (docs/scaling.md).

    Attributes:
        out: sweep folder: data, one run folder per point, fits, plots; re-running resumes it.
        scale: preset sweep: small (2 CPU cores, within an hour) or large (GPUs).
        spec: YAML file overriding fields of the preset (docs/scaling.md).
        data: an existing `noether data rigid` folder; none: generate OUT/data.
        workers: chains trained in parallel processes.
        threads: torch threads per process.
        n_boot: bootstrap resamples of each fit.
        dry_run: check the spec and list the chains and their steps, then stop.
        prepare: make the data and spec.json, then stop (before a job array of --chain).
        list_chains: print the chain names, one per line (for job arrays), then stop.
        chain: train only this chain (one job of an array), no fitting.
        fit_only: fit and plot the finished points without training.
        progress: show the progress bars.
    """

    out: Path = Path("runs/scaling")
    scale: Literal["small", "large"] = "small"
    spec: Path | None = None
    data: Path | None = None
    workers: int = 2
    threads: int = 1
    n_boot: int = 500
    dry_run: bool = False
    prepare: bool = False
    list_chains: bool = False
    chain: str | None = None
    fit_only: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads < 1 or self.n_boot < 10:
            raise ValueError(
                f"workers and threads must be >= 1 and n_boot >= 10, got {self.workers}, "
                f"{self.threads} and {self.n_boot}"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, ScalingRun, flags={"list_chains": "--list"})


def main(args: argparse.Namespace) -> int:
    run = config_from_args(args, ScalingRun)
    try:
        spec = load_spec(run.scale, run.spec)
    except (ValueError, OSError) as error:
        print(f"noether scaling: error: {error}", file=sys.stderr)
        return 2
    chains = plan(spec)
    if run.list_chains:
        print("\n".join(c.name for c in chains))
        return 0
    if run.chain is not None and run.chain not in {c.name for c in chains}:
        print(f"noether scaling: error: no chain {run.chain!r}; see --list", file=sys.stderr)
        return 2
    n_points = sum(len(c.points) for c in chains)
    print(
        f"sweep: {len(spec.families)} families, {n_points} points in {len(chains)} chains, "
        f"steps {spec.steps}, training scenes {spec.data_scenes} (grid: {spec.grid_scenes})"
    )
    if run.dry_run:
        for chain in chains:
            print(f"  {chain.name}: steps {list(chain.steps)}")
        return 0

    if run.fit_only and not (run.out / SPEC).is_file():
        print(
            f"noether scaling: error: {run.out} holds no sweep to fit (no {SPEC}); run "
            f"`noether scaling --out {run.out}` first",
            file=sys.stderr,
        )
        return 2
    try:
        data = prepare(run.out, spec, data=run.data, progress=run.progress)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"noether scaling: error: {error}", file=sys.stderr)
        return 2
    if run.prepare:
        print(f"prepared {run.out}: data in {data}; run the chains (--chain NAME) next")
        return 0
    failed = []
    if not run.fit_only:
        failed = run_chains(
            run.out,
            spec,
            workers=run.workers,
            threads=run.threads,
            progress=run.progress,
            only=run.chain,
        )
    if run.chain is None:
        try:
            finish(run.out, spec, data, n_boot=run.n_boot)
        except ValueError as error:  # no finished point to fit
            print(f"noether scaling: error: {error}", file=sys.stderr)
            return 1
    if failed:
        print(
            f"{len(failed)} chain(s) failed: {', '.join(failed)}; re-run to resume them",
            file=sys.stderr,
        )
        return 1
    return 0
