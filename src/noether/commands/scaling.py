"""`noether scaling`: the scaling-law study, GATr against the Transformer on rigid bodies."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/scaling"),
        help="sweep folder: data, one run folder per point, fits, plots "
        "(default: runs/scaling); re-running resumes it",
    )
    parser.add_argument(
        "--scale",
        default="small",
        choices=["small", "large"],
        help="preset sweep: small (2 CPU cores, within an hour; default) or large (GPUs)",
    )
    parser.add_argument(
        "--spec",
        type=Path,
        default=None,
        help="YAML file overriding fields of the preset (docs/scaling.md)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="an existing `noether data rigid` folder (default: generate OUT/data)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="chains trained in parallel processes (default: 2)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per process (default: 1)"
    )
    parser.add_argument(
        "--n-boot", type=int, default=500, help="bootstrap resamples of each fit (default: 500)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the spec and list the chains and their steps, then stop",
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="make the data and spec.json, then stop (before a job array of --chain)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the chain names, one per line (for job arrays), then stop",
    )
    parser.add_argument(
        "--chain", default=None, help="train only this chain (one job of an array), no fitting"
    )
    parser.add_argument(
        "--fit-only", action="store_true", help="fit and plot the finished points without training"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def main(args: argparse.Namespace) -> int:
    import sys

    from noether.studies.scaling.plan import load_spec, plan

    try:
        spec = load_spec(args.scale, args.spec)
        if args.workers < 1 or args.threads < 1 or args.n_boot < 10:
            raise ValueError(
                f"--workers and --threads must be >= 1 and --n-boot >= 10, got {args.workers}, "
                f"{args.threads} and {args.n_boot}"
            )
    except (ValueError, OSError) as error:
        print(f"noether scaling: error: {error}", file=sys.stderr)
        return 2
    chains = plan(spec)
    if args.list:
        print("\n".join(c.name for c in chains))
        return 0
    if args.chain is not None and args.chain not in {c.name for c in chains}:
        print(f"noether scaling: error: no chain {args.chain!r}; see --list", file=sys.stderr)
        return 2
    n_points = sum(len(c.points) for c in chains)
    print(
        f"sweep: {len(spec.families)} families, {n_points} points in {len(chains)} chains, "
        f"steps {spec.steps}, training scenes {spec.data_scenes} (grid: {spec.grid_scenes})"
    )
    if args.dry_run:
        for chain in chains:
            print(f"  {chain.name}: steps {list(chain.steps)}")
        return 0

    from noether.studies.scaling.report import finish
    from noether.studies.scaling.run import prepare, run_chains
    from noether.studies.scaling.runner import SPEC

    if args.fit_only and not (args.out / SPEC).is_file():
        print(
            f"noether scaling: error: {args.out} holds no sweep to fit (no {SPEC}); run "
            f"`noether scaling --out {args.out}` first",
            file=sys.stderr,
        )
        return 2
    try:
        data = prepare(args.out, spec, data=args.data, progress=not args.no_progress)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"noether scaling: error: {error}", file=sys.stderr)
        return 2
    if args.prepare:
        print(f"prepared {args.out}: data in {data}; run the chains (--chain NAME) next")
        return 0
    failed = []
    if not args.fit_only:
        failed = run_chains(
            args.out,
            spec,
            workers=args.workers,
            threads=args.threads,
            progress=not args.no_progress,
            only=args.chain,
        )
    if args.chain is None:
        try:
            finish(args.out, spec, data, n_boot=args.n_boot)
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
