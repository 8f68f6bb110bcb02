"""HDF5 shards of rigid-body scenes: the schema, an atomic shard writer and a lazy reader.

A dataset is a directory of ``shard-00000.h5, shard-00001.h5, ...`` plus ``meta.json``. Every shard
holds consecutive scenes, padded to ``B = max_bodies`` bodies (``body_mask`` marks real ones), with
the arrays of :data:`SCENE_ARRAYS` (``S`` scenes, ``F`` frames, ``P`` points per body) and, once
per shard, the symmetry-breaking context of :data:`CONTEXT_ARRAYS`. Attributes hold the generator
config (JSON), the seed and the scene range.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import torch

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
_CHUNK_BYTES = 1 << 16
_INTEGER = {"scene_index": np.int64, "n_bodies": np.int32, "body_mask": np.bool_}


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


class ShardWriter:
    """Writes one shard of ``n_scenes`` scenes to a temporary file and renames it on :meth:`close`.

    Args:
        path: final path of the shard.
        n_scenes: scenes it will hold.
        shapes: per-scene shape of each array of :data:`SCENE_ARRAYS` (without the leading S).
        context: the arrays of :data:`CONTEXT_ARRAYS`.
        attrs: JSON-serialisable attributes (config, seed, first scene, ...).
        dtype: floating dtype of the stored arrays.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_scenes: int,
        shapes: dict[str, tuple[int, ...]],
        context: dict[str, np.ndarray],
        attrs: dict,
        dtype: np.dtype | str = np.float32,
    ) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.n_scenes, self.filled = n_scenes, 0
        self.file = h5py.File(self.tmp, "w")
        for name in SCENE_ARRAYS:
            kind = np.dtype(_INTEGER.get(name, dtype))
            row_bytes = kind.itemsize * int(np.prod(shapes[name], dtype=np.int64))
            rows = int(np.clip(_CHUNK_BYTES // row_bytes, 1, n_scenes))  # chunks of about 64 kB
            self.file.create_dataset(
                name, shape=(n_scenes, *shapes[name]), dtype=kind, chunks=(rows, *shapes[name])
            )
        for name, value in context.items():
            self.file.create_dataset(name, data=np.asarray(value, dtype=np.float64))
        for key, value in attrs.items():
            self.file.attrs[key] = json.dumps(value) if isinstance(value, dict) else value

    def write(self, arrays: dict[str, np.ndarray]) -> None:
        """Append a block of scenes (every array has the block's scenes on axis 0)."""
        k = len(arrays["n_bodies"])
        if self.filled + k > self.n_scenes:
            raise ValueError(
                f"{self.path.name} holds {self.n_scenes} scenes; got {self.filled + k}"
            )
        for name in SCENE_ARRAYS:
            self.file[name][self.filled : self.filled + k] = arrays[name]
        self.filled += k

    def close(self) -> Path:
        if self.filled != self.n_scenes:
            raise ValueError(f"{self.path.name}: wrote {self.filled} of {self.n_scenes} scenes")
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def read_attrs(path: str | os.PathLike) -> dict:
    """Attributes of a shard (JSON strings decoded)."""
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 shard ({error}); regenerate it") from error
    for key, value in attrs.items():
        if isinstance(value, str) and value.startswith("{"):
            attrs[key] = json.loads(value)
        elif isinstance(value, np.generic):
            attrs[key] = value.item()
    return attrs


class RigidShards(torch.utils.data.Dataset):
    """Lazy reader of a directory of rigid-body shards: one item is one scene.

    Only shard sizes are read at construction. Files are opened on first access in each process
    and reopened after a fork (a DataLoader worker never shares an HDF5 handle with its parent);
    pickling drops open handles.

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
        self.paths = sorted(self.root.glob("shard-*.h5"))
        if not self.paths:
            raise FileNotFoundError(f"no shard-*.h5 files in {self.root}")
        self.attrs = [read_attrs(p) for p in self.paths]
        for path, attrs in zip(self.paths, self.attrs):
            if attrs.get("kind") != "rigid" or "n_scenes" not in attrs:
                raise ValueError(f"{path} is not a noether rigid-body shard")
            if attrs["config"] != self.attrs[0]["config"] or attrs["seed"] != self.attrs[0]["seed"]:
                raise ValueError(
                    f"{path} was made with another config or seed than {self.paths[0].name}; "
                    "one directory must hold one dataset"
                )
        sizes = np.array([a["n_scenes"] for a in self.attrs])
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
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
        self._files: dict[int, h5py.File] = {}
        self._open_shards: dict[int, tuple[dict, dict]] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _open(self, shard: int) -> tuple[dict[str, h5py.Dataset], dict[str, np.ndarray]]:
        """The shard's datasets (looked up once: ``file[name]`` costs more than a row read) and
        its context arrays, opened in this process."""
        if self._pid != os.getpid():  # forked: inherited handles belong to the parent
            self._files, self._open_shards, self._pid = {}, {}, os.getpid()
        if shard not in self._open_shards:
            f = h5py.File(self.paths[shard], "r")
            self._files[shard] = f
            datasets = {name: f[name] for name in SCENE_ARRAYS}
            context = {name: f[name][()] for name in CONTEXT_ARRAYS}
            self._open_shards[shard] = (datasets, context)
        return self._open_shards[shard]

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"scene {index} out of range for {len(self)} scenes")
        index %= len(self)
        shard = int(np.searchsorted(self.offsets, index, side="right") - 1)
        row = index - int(self.offsets[shard])
        datasets, context = self._open(shard)
        item = {}
        for name, (shape, _) in SCENE_ARRAYS.items():
            if self.frames is not None and shape.startswith("(S, F"):
                item[name] = datasets[name][row, self.frames]
            else:
                item[name] = datasets[name][row]
        for name, value in context.items():
            item[name] = value.copy()
        return item

    def close(self) -> None:
        if self._pid == os.getpid():
            for f in self._files.values():
                f.close()
        self._files, self._open_shards = {}, {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_files"], state["_open_shards"] = {}, {}
        return state
