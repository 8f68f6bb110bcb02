"""Rigid-body datasets: many MuJoCo scenes generated in parallel processes, streamed to HDF5 shards.

Scene ``i`` draws everything from its own random stream ``(seed, i)``, so a dataset does not
depend on how many processes made it or in which order. Workers simulate blocks of scenes; the
parent writes them, in order, into shards of ``scenes_per_shard`` scenes (each written to a
temporary file and renamed when full). Re-running the same command skips the shards that are
already complete, so an interrupted run resumes. See :mod:`noether.sims.rigid.shards` for the format.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from noether.core.io import atomic_write_json
from noether.core.progress import Progress
from noether.sims.rigid.scenes import RigidConfig, sample_scene, simulate_scene
from noether.sims.rigid.shards import (
    FORMAT_VERSION,
    SCENE_ARRAYS,
    read_attrs,
    shard_name,
    shard_writer,
)

_BLOCK = 8  # scenes per task sent to a worker


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of scene ``index``."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def context(config: RigidConfig) -> dict[str, np.ndarray]:
    """Gravity and ground plane: what breaks the scene's E(3) symmetry (see the shard format)."""
    normal = [0.0, 0.0, 1.0] if config.ground else [0.0, 0.0, 0.0]
    return {
        "gravity": np.array(config.gravity, dtype=np.float64),
        "plane_normal": np.array(normal),
        "plane_point": np.zeros(3),
    }


def padded_scene(arrays: dict[str, np.ndarray], config: RigidConfig, index: int) -> dict:
    """One simulated scene padded to ``config.max_bodies`` bodies, with its mask and index."""
    n, b = len(arrays["mass"]), config.max_bodies
    out = {"scene_index": np.int64(index), "n_bodies": np.int32(n)}
    out["body_mask"] = np.arange(b) < n
    for name in ("mass", "inertia", "points_local"):
        value = arrays[name]
        out[name] = np.concatenate([value, np.zeros((b - n, *value.shape[1:]))])
    for name in ("position", "quaternion", "velocity", "angular_velocity", "points"):
        value = arrays[name]
        pad = np.zeros((value.shape[0], b - n, *value.shape[2:]))
        if name == "quaternion":
            pad[..., 0] = 1.0
        out[name] = np.concatenate([value, pad], axis=1)
    return out


def simulate_block(task: tuple[RigidConfig, int, int, int]) -> dict[str, np.ndarray]:
    """Scenes ``start .. stop - 1`` of the dataset, stacked (runs in a worker process)."""
    config, seed, start, stop = task
    scenes = [
        padded_scene(simulate_scene(sample_scene(scene_rng(seed, i), config), config), config, i)
        for i in range(start, stop)
    ]
    return {name: np.stack([s[name] for s in scenes]) for name in SCENE_ARRAYS}


def scene_shapes(config: RigidConfig) -> dict[str, tuple[int, ...]]:
    """Per-scene shape of every stored array."""
    f, b, p = config.n_frames, config.max_bodies, config.points_per_body
    return {
        "scene_index": (),
        "n_bodies": (),
        "body_mask": (b,),
        "mass": (b,),
        "inertia": (b, 3, 3),
        "points_local": (b, p, 3),
        "position": (f, b, 3),
        "quaternion": (f, b, 4),
        "velocity": (f, b, 3),
        "angular_velocity": (f, b, 3),
        "points": (f, b, p, 3),
    }


def _shard_plan(n_scenes: int, per_shard: int) -> list[tuple[int, int]]:
    return [(s, min(s + per_shard, n_scenes)) for s in range(0, n_scenes, per_shard)]


def _attrs(config: RigidConfig, seed: int, start: int, stop: int, dtype: str) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "rigid",
        "config": config.to_dict(),
        "seed": seed,
        "first_scene": start,
        "n_scenes": stop - start,
        "dtype": dtype,
        "frame_time": config.timestep * config.steps_per_frame,
        "units": "SI: m, kg, s, rad",
    }


def _is_done(path: Path, expected: dict) -> bool:
    """Whether ``path`` is a finished shard of exactly this dataset; a foreign one is an error."""
    if not path.exists():
        return False
    attrs = read_attrs(path)
    keys = ("kind", "config", "seed", "first_scene", "n_scenes", "dtype")
    if any(json.dumps(attrs.get(k)) != json.dumps(expected[k]) for k in keys):
        raise FileExistsError(
            f"{path} belongs to a different dataset (other seed, config or layout); "
            "choose another --out or pass --overwrite"
        )
    return True


def _results(tasks: list[tuple], workers: int) -> Iterator[dict[str, np.ndarray]]:
    if workers == 1:
        yield from map(simulate_block, tasks)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(workers) as pool:
        yield from pool.imap(simulate_block, tasks)


def generate(
    out_dir: str | os.PathLike,
    config: RigidConfig,
    n_scenes: int,
    *,
    seed: int = 0,
    scenes_per_shard: int = 1000,
    workers: int = 1,
    dtype: str = "float32",
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Generate ``n_scenes`` scenes into shards under ``out_dir``; returns the summary written to
    ``out_dir/meta.json`` (sizes, timing, context)."""
    if n_scenes < 1 or scenes_per_shard < 1 or workers < 1:
        raise ValueError(
            f"n_scenes, scenes_per_shard and workers must be >= 1, got {n_scenes}, "
            f"{scenes_per_shard} and {workers}"
        )
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for old in [*out.glob("shard-*.h5"), out / "meta.json"]:
            old.unlink(missing_ok=True)
    plan = _shard_plan(n_scenes, scenes_per_shard)
    todo = []
    for k, (start, stop) in enumerate(plan):
        if not _is_done(out / shard_name(k), _attrs(config, seed, start, stop, dtype)):
            todo.append(k)
    stale = sorted(p for p in out.glob("shard-*.h5") if int(p.stem.split("-")[1]) >= len(plan))
    if stale:
        raise FileExistsError(
            f"{out} holds more shards than this dataset ({stale[0].name}); pass --overwrite"
        )
    tasks = [
        (config, seed, s, min(s + _BLOCK, plan[k][1]))
        for k in todo
        for s in range(plan[k][0], plan[k][1], _BLOCK)
    ]
    shapes, ctx_arrays = scene_shapes(config), context(config)
    todo_scenes = sum(plan[k][1] - plan[k][0] for k in todo)
    start_time = time.perf_counter()
    writer = None
    queue = list(todo)
    try:
        with Progress(todo_scenes, desc="rigid scenes", unit="scene", enabled=progress) as bar:
            for block in _results(tasks, workers):
                if writer is None:
                    k = queue.pop(0)
                    start, stop = plan[k]
                    writer = shard_writer(
                        out / shard_name(k),
                        stop - start,
                        shapes,
                        ctx_arrays,
                        _attrs(config, seed, start, stop, dtype),
                        dtype,
                    )
                writer.write(block)
                bar.update(len(block["n_bodies"]))
                if writer.filled == writer.n_rows:
                    writer.close()
                    writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    seconds = time.perf_counter() - start_time
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": "rigid",
        "seed": seed,
        "config": config.to_dict(),
        "n_scenes": n_scenes,
        "shards": [shard_name(k) for k in range(len(plan))],
        "scenes_per_shard": scenes_per_shard,
        "dtype": dtype,
        "context": {k: v.tolist() for k, v in ctx_arrays.items()},
        "arrays": {k: list(v) for k, v in SCENE_ARRAYS.items()},
        "generated_now": todo_scenes,
        "workers": workers,
        "seconds": seconds,
        "scenes_per_second": todo_scenes / seconds if todo_scenes else None,
    }
    # atomic_path names the temporary file per process: array jobs that resume the same folder
    # at once (each `noether scaling --chain` checks the data) never rename one another's file.
    atomic_write_json(out / "meta.json", meta)
    return meta
