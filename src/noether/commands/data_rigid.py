"""`noether data rigid`: generate rigid-body scenes with MuJoCo into HDF5 shards (docs/sims.md)."""

from __future__ import annotations

import argparse
import os
import sys

from noether.sims.rigid.scenes import RigidConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = RigidConfig()
    parser.add_argument(
        "--out", default="data/rigid", help="output directory (default: data/rigid)"
    )
    parser.add_argument("--scenes", type=int, default=1000, help="number of scenes (1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="simulation processes (default: min(2, cores))",
    )
    parser.add_argument("--shard-size", type=int, default=1000, help="scenes per HDF5 shard (1000)")
    parser.add_argument("--min-bodies", type=int, default=d.min_bodies, help=f"({d.min_bodies})")
    parser.add_argument("--max-bodies", type=int, default=d.max_bodies, help=f"({d.max_bodies})")
    parser.add_argument(
        "--points",
        type=int,
        default=d.points_per_body,
        help=f"surface points per body ({d.points_per_body})",
    )
    parser.add_argument(
        "--frames", type=int, default=d.n_frames, help=f"stored frames per scene ({d.n_frames})"
    )
    parser.add_argument(
        "--steps-per-frame",
        type=int,
        default=d.steps_per_frame,
        help=f"MuJoCo steps between frames, the prediction horizon k ({d.steps_per_frame})",
    )
    parser.add_argument(
        "--timestep", type=float, default=d.timestep, help=f"seconds ({d.timestep})"
    )
    parser.add_argument(
        "--gravity",
        type=float,
        nargs=3,
        default=d.gravity,
        metavar=("GX", "GY", "GZ"),
        help="gravitational acceleration in m/s^2 (0 0 -9.81)",
    )
    parser.add_argument("--no-ground", action="store_true", help="no ground plane")
    parser.add_argument("--float64", action="store_true", help="store float64 instead of float32")
    parser.add_argument("--overwrite", action="store_true", help="delete existing shards first")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-plot", action="store_true", help="skip the overview PNG")


def main(args: argparse.Namespace) -> int:
    from noether.sims.rigid.shards import RigidShards
    from noether.sims.rigid.simulator import generate

    try:
        config = RigidConfig(
            min_bodies=args.min_bodies,
            max_bodies=args.max_bodies,
            points_per_body=args.points,
            n_frames=args.frames,
            steps_per_frame=args.steps_per_frame,
            timestep=args.timestep,
            gravity=tuple(args.gravity),
            ground=not args.no_ground,
        )
        meta = generate(
            args.out,
            config,
            args.scenes,
            seed=args.seed,
            scenes_per_shard=args.shard_size,
            workers=args.workers,
            dtype="float64" if args.float64 else "float32",
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (ValueError, FileExistsError) as error:
        print(f"noether data rigid: error: {error}", file=sys.stderr)
        return 2
    rate = meta["scenes_per_second"]
    done = f"{meta['generated_now']} new scenes in {meta['seconds']:.1f} s"
    done += (
        f" ({rate:.1f} scenes/s with {args.workers} process(es))"
        if rate
        else " (all shards existed)"
    )
    print(
        f"rigid-body dataset in {args.out}/: {meta['n_scenes']} scenes, {len(meta['shards'])} shard(s); {done}"
    )
    ctx = meta["context"]
    print(
        f"  symmetry breaking: gravity {ctx['gravity']} m/s^2, ground plane normal {ctx['plane_normal']}"
    )
    if not args.no_plot:
        from noether.sims.rigid.plots import rigid_overview

        dataset = RigidShards(args.out)
        print(f"  overview plot: {rigid_overview(dataset, os.path.join(args.out, 'overview.png'))}")
        dataset.close()
    return 0
