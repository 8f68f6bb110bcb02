"""`noether data nbody`: generate the gravitational n-body dataset (see docs/sims.md).

The options are the fields of :class:`~noether.sims.nbody.NBodyConfig` (the simulator),
:class:`~noether.sims.nbody.dataset.NBodySizes` (systems per split) and :class:`NBodyJob` (where
and how to write), built by :mod:`noether.commands.options`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from noether.commands.options import add_options, config_from_args
from noether.sims.nbody import gravity
from noether.sims.nbody.dataset import (
    NBodySizes,
    check_writable,
    generate_dataset,
    write_dataset,
)
from noether.sims.nbody.plots import nbody_overview
from noether.sims.nbody.simulator import PLACEMENTS, NBodyConfig

SIZES_HELP = {
    "train": "training systems",
    "val": "validation systems",
    "test": "systems of each test set (test, test_rotated, test_translated)",
    "more_bodies": "systems with more planets (test_more_bodies)",
    "more_planets": "planets per system of test_more_bodies",
}


@dataclass(frozen=True)
class NBodyJob:
    """Where and how ``noether data nbody`` writes.

    Attributes:
        out: output directory.
        seed: random seed of every split.
        test_shift: length of the shift of the test_translated set.
        overwrite: replace an existing output directory.
        progress: show a progress bar.
        plot: write the overview PNG.
    """

    out: str = "data/nbody"
    seed: int = 0
    test_shift: float = 20.0
    overwrite: bool = False
    progress: bool = True
    plot: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, NBodyJob)
    add_options(parser, NBodySizes, help=SIZES_HELP)
    d = NBodyConfig()
    add_options(
        parser,
        NBodyConfig,
        flags={"n_planets": "--planets"},
        choices={"placement": PLACEMENTS, "scheme": tuple(gravity.SCHEMES)},
        help={
            "max_level": f"step doublings before an unconverged system is rejected (up to "
            f"{d.base_steps} * 2**max_level steps)"
        },
    )


def main(args: argparse.Namespace) -> int:
    job = config_from_args(args, NBodyJob)
    config = config_from_args(args, NBodyConfig)
    sizes = config_from_args(args, NBodySizes)
    try:
        check_writable(job.out, overwrite=job.overwrite)
        splits, meta = generate_dataset(
            config, sizes, job.seed, test_shift=job.test_shift, progress=job.progress
        )
        out = write_dataset(job.out, splits, meta, overwrite=job.overwrite)
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
    if job.plot:
        print(f"  overview plot: {nbody_overview(splits, meta, out / 'overview.png')}")
    return 0
