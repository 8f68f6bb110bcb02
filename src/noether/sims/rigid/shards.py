"""HDF5 shards of rigid-body scenes: the schema, its shard writer and a lazy reader, on the
column stores of :mod:`noether.core.shards`.

A dataset is a directory of ``shard-00000.h5, shard-00001.h5, ...`` plus ``meta.json``. Every shard
holds consecutive scenes, padded to ``B = max_bodies`` bodies (``body_mask`` marks real ones), with
the arrays of :data:`SCENE_ARRAYS` (``S`` scenes, ``F`` frames, ``P`` points per body) and, once
per shard, the symmetry-breaking context of :data:`CONTEXT_ARRAYS`. Attributes hold the generator
config (JSON), the seed and the scene range (``first_scene``, ``n_scenes``; ``n_samples`` of the
shard layer too). Shards written before the shard layer (no ``n_samples``, no ``static``
attribute) read unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from noether.core.shards import ShardedColumns, ShardWriter, read_attrs, shard_name

__all__ = [
    "CONTEXT_ARRAYS",
    "FORMAT_VERSION",
    "SCENE_ARRAYS",
    "RigidShards",
    "read_attrs",
    "scene_columns",
    "shard_name",
    "shard_writer",
]

FORMAT_VERSION = 1
SCENE_ARRAYS = {
    "scene_index": ("(S,) int64", "global scene number (its random stream)"),
    "n_bodies": ("(S,) int32", "real bodies in the scene"),
    "body_mask": ("(S, B) bool", "True for real bodies, False for padding"),
    "mass": ("(S, B)", "kg"),
    "inertia": ("(S, B, 3, 3)", "inertia tensor about the centre of mass, body axes, kg m^2"),
    "points_local": (
        "(S, B, P, 3)",
        "surface points (hull vertices) relative to the centre of mass, body axes, m",
    ),
    "position": ("(S, F, B, 3)", "centre of mass, world, m"),
    "quaternion": ("(S, F, B, 4)", "orientation (w, x, y, z), body to world; padding (1, 0, 0, 0)"),
    "velocity": ("(S, F, B, 3)", "centre-of-mass velocity, world, m/s"),
    "angular_velocity": ("(S, F, B, 3)", "angular velocity, world axes, rad/s"),
    "points": ("(S, F, B, P, 3)", "surface points, world, m"),
}
CONTEXT_ARRAYS = {
    "gravity": ("(3,)", "gravitational acceleration, m/s^2"),
    "plane_normal": ("(3,)", "unit normal of the ground plane (zero if there is none)"),
    "plane_point": ("(3,)", "a point on the ground plane, m"),
}
_INTEGER = {"scene_index": np.int64, "n_bodies": np.int32, "body_mask": np.bool_}


def scene_columns(
    shapes: dict[str, tuple[int, ...]], dtype: np.dtype | str = np.float32
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The columns of a shard (:data:`SCENE_ARRAYS`) as ``name -> (per-scene shape, dtype)`` for
    :class:`noether.core.shards.ShardWriter`: floating arrays in ``dtype``, integers as listed."""
    return {
        name: (tuple(shapes[name]), np.dtype(_INTEGER.get(name, dtype))) for name in SCENE_ARRAYS
    }


def shard_writer(
    path: str | os.PathLike,
    n_scenes: int,
    shapes: dict[str, tuple[int, ...]],
    context: dict[str, np.ndarray],
    attrs: dict,
    dtype: np.dtype | str = np.float32,
) -> ShardWriter:
    """A :class:`~noether.core.shards.ShardWriter` of one shard of ``n_scenes`` scenes: the arrays
    of :data:`SCENE_ARRAYS` (``shapes`` without the leading S) as columns, the
    :data:`CONTEXT_ARRAYS` (float64) as per-shard arrays, ``attrs`` (config, seed, first scene,
    ``n_scenes``, ...) as attributes."""
    return ShardWriter(
        path,
        n_scenes,
        scene_columns(shapes, dtype),
        static={k: np.asarray(v, dtype=np.float64) for k, v in context.items()},
        attrs=attrs,
    )


class RigidShards(torch.utils.data.Dataset):
    """Lazy reader of a directory of rigid-body shards: one item is one scene.

    Only shard sizes are read at construction. Files are opened on first access in each process
    and reopened after a fork (a DataLoader worker never shares an HDF5 handle with its parent);
    pickling drops open handles (:class:`noether.core.shards.ShardedColumns`).

    ``dataset[i]`` is a dict of numpy arrays: every array of :data:`SCENE_ARRAYS` without the
    leading ``S`` axis, plus the context arrays of :data:`CONTEXT_ARRAYS`. Pass ``frames`` (a
    list of frame indices) to read only those frames of the per-frame arrays.
    """

    def __init__(self, root: str | os.PathLike, frames: list[int] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"{self.root} is not a directory; generate it with `noether data rigid`"
            )
        paths = sorted(self.root.glob("shard-*.h5"))
        if not paths:
            raise FileNotFoundError(f"no shard-*.h5 files in {self.root}")
        for path in paths:
            attrs = read_attrs(path)
            if attrs.get("kind") != "rigid" or "n_scenes" not in attrs:
                raise ValueError(f"{path} is not a noether rigid-body shard")
        self.store = ShardedColumns(
            paths,
            list(SCENE_ARRAYS),
            static=list(CONTEXT_ARRAYS),
            rows_attrs=("n_samples", "n_scenes"),  # n_scenes alone: written before the layer
        )
        self.paths, self.attrs, self.offsets = paths, self.store.attrs, self.store.offsets
        for path, attrs in zip(self.paths, self.attrs):
            if attrs["config"] != self.attrs[0]["config"] or attrs["seed"] != self.attrs[0]["seed"]:
                raise ValueError(
                    f"{path} was made with another config or seed than {self.paths[0].name}; "
                    "one directory must hold one dataset"
                )
        self.config = self.attrs[0]["config"]
        n_frames = self.config["n_frames"]
        if frames is not None:
            frames = [int(f) for f in frames]
            if (
                not frames
                or frames != sorted(set(frames))
                or frames[0] < 0
                or frames[-1] >= n_frames
            ):
                raise ValueError(
                    f"frames must be increasing indices in [0, {n_frames}), got {frames}"
                )
        self.frames = frames

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"scene {index} out of range for {len(self)} scenes")
        shard, row = self.store.locate(index)
        datasets = self.store.datasets(shard)
        item = {}
        for name, (shape, _) in SCENE_ARRAYS.items():
            if self.frames is not None and shape.startswith("(S, F"):
                item[name] = datasets[name][row, self.frames]
            else:
                item[name] = datasets[name][row]
        for name, value in self.store.static(shard).items():
            item[name] = value.copy()
        return item

    def close(self) -> None:
        self.store.close()
