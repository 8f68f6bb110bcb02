"""`noether data nbody`: generate the gravitational n-body dataset (see docs/sims.md)."""

from __future__ import annotations

import argparse
import sys

from noether.sims.nbody.dataset import (
    NBodySizes,
    check_writable,
    generate_dataset,
    write_dataset,
)
from noether.sims.nbody.simulator import PLACEMENTS, NBodyConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = NBodyConfig()
    s = NBodySizes()
    parser.add_argument(
        "--out", default="data/nbody", help="output directory (default: data/nbody)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--train", type=int, default=s.train, help=f"training systems ({s.train})")
    parser.add_argument("--val", type=int, default=s.val, help=f"validation systems ({s.val})")
    parser.add_argument("--test", type=int, default=s.test, help=f"test systems ({s.test})")
    parser.add_argument(
        "--more-bodies",
        type=int,
        default=s.more_bodies,
        help=f"systems with more planets ({s.more_bodies})",
    )
    parser.add_argument(
        "--planets", type=int, default=d.n_planets, help=f"planets per system ({d.n_planets})"
    )
    parser.add_argument(
        "--more-planets",
        type=int,
        default=s.more_planets,
        help=f"planets in the larger test set ({s.more_planets})",
    )
    parser.add_argument(
        "--placement",
        choices=PLACEMENTS,
        default=d.placement,
        help="canonical: star at the origin, orbits near the x-y plane; random: the GATr paper's "
        "random rotation and translation (default: canonical)",
    )
    parser.add_argument(
        "--shift-std",
        type=float,
        default=d.shift_std,
        help="translation scale of --placement random",
    )
    parser.add_argument(
        "--test-shift", type=float, default=20.0, help="length of the test_translated shift (20)"
    )
    parser.add_argument(
        "--time", type=float, default=d.time, help=f"time from input to target ({d.time})"
    )
    parser.add_argument(
        "--softening",
        type=float,
        default=d.softening,
        help=f"Plummer softening length ({d.softening})",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=d.tolerance,
        help=f"final-position error tolerance ({d.tolerance})",
    )
    parser.add_argument(
        "--max-level",
        type=int,
        default=d.max_level,
        help=f"step doublings before an unconverged system is rejected ({d.max_level}: "
        f"up to {d.base_steps * 2**d.max_level} steps)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output directory"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-plot", action="store_true", help="skip the overview PNG")


def main(args: argparse.Namespace) -> int:
    try:
        config = NBodyConfig(
            n_planets=args.planets,
            time=args.time,
            placement=args.placement,
            shift_std=args.shift_std,
            softening=args.softening,
            tolerance=args.tolerance,
            max_level=args.max_level,
        )
        sizes = NBodySizes(
            train=args.train,
            val=args.val,
            test=args.test,
            more_bodies=args.more_bodies,
            more_planets=args.more_planets,
        )
        check_writable(args.out, overwrite=args.overwrite)
        splits, meta = generate_dataset(
            config, sizes, args.seed, test_shift=args.test_shift, progress=not args.no_progress
        )
        out = write_dataset(args.out, splits, meta, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as error:
        print(f"noether data nbody: error: {error}", file=sys.stderr)
        return 2
    print(
        f"n-body dataset written to {out}/ ({meta['seconds']:.1f} s, {meta['systems_per_second']:.0f} systems/s)"
    )
    for name, n in meta["sizes"].items():
        print(f"  {name:17s} {n:7d} systems of {meta['bodies'][name]} bodies")
    eq = meta["equivariance_error"]
    print(
        f"  simulator equivariance error: rotation {eq['rotation']:.1e}, translation {eq['translation']:.1e}"
    )
    print(
        f"  largest relative drift: energy {max(meta['max_energy_error'].values()):.1e}, "
        f"momentum {max(meta['max_momentum_error'].values()):.1e}"
    )
    print(f"  rejected candidates: {meta['rejected']}")
    if not args.no_plot:
        from noether.sims.nbody.plots import nbody_overview

        print(f"  overview plot: {nbody_overview(splits, meta, out / 'overview.png')}")
    return 0
