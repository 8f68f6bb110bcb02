"""`noether data rigid`: generate rigid-body scenes with MuJoCo into HDF5 shards (docs/sims.md).

The options are the fields of :class:`~noether.sims.rigid.scenes.RigidConfig` (the scenes) and
:class:`RigidJob` (how many, where, how), built by :mod:`noether.commands.options`.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field

from noether.commands.options import add_options, config_from_args
from noether.sims.rigid.plots import rigid_overview
from noether.sims.rigid.scenes import RigidConfig
from noether.sims.rigid.shards import RigidShards
from noether.sims.rigid.simulator import generate


@dataclass(frozen=True)
class RigidJob:
    """How many scenes ``noether data rigid`` makes, and where.

    Attributes:
        out: output directory.
        scenes: number of scenes.
        seed: random seed.
        workers: simulation processes (at most 2 by default).
        shard_size: scenes per HDF5 shard.
        float64: store float64 instead of float32.
        overwrite: delete existing shards first.
        progress: show a progress bar.
        plot: write the overview PNG.
    """

    out: str = "data/rigid"
    scenes: int = 1000
    seed: int = 0
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    shard_size: int = 1000
    float64: bool = False
    overwrite: bool = False
    progress: bool = True
    plot: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, RigidJob)
    add_options(
        parser,
        RigidConfig,
        flags={"points_per_body": "--points", "n_frames": "--frames"},
        help={"steps_per_frame": "MuJoCo steps between frames, the prediction horizon k"},
    )


def main(args: argparse.Namespace) -> int:
    job = config_from_args(args, RigidJob)
    config = config_from_args(args, RigidConfig)
    try:
        meta = generate(
            job.out,
            config,
            job.scenes,
            seed=job.seed,
            scenes_per_shard=job.shard_size,
            workers=job.workers,
            dtype="float64" if job.float64 else "float32",
            overwrite=job.overwrite,
            progress=job.progress,
        )
    except (ValueError, FileExistsError) as error:
        print(f"noether data rigid: error: {error}", file=sys.stderr)
        return 2
    rate = meta["scenes_per_second"]
    done = f"{meta['generated_now']} new scenes in {meta['seconds']:.1f} s"
    done += (
        f" ({rate:.1f} scenes/s with {job.workers} process(es))"
        if rate
        else " (all shards existed)"
    )
    print(
        f"rigid-body dataset in {job.out}/: {meta['n_scenes']} scenes, {len(meta['shards'])} shard(s); {done}"
    )
    ctx = meta["context"]
    print(
        f"  symmetry breaking: gravity {ctx['gravity']} m/s^2, ground plane normal {ctx['plane_normal']}"
    )
    if job.plot:
        dataset = RigidShards(job.out)
        print(f"  overview plot: {rigid_overview(dataset, os.path.join(job.out, 'overview.png'))}")
        dataset.close()
    return 0
