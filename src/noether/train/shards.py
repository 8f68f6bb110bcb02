"""Datasets larger than memory: HDF5 shards read lazily, opened in each worker after the fork.

Layout of one shard file (``shard-00000.h5``, ...): attribute ``n_samples``; for every column
``name`` either a dataset of shape ``(n_samples, ...)`` (fixed-size samples) or, for samples whose
first axis varies (atoms of different molecules), the samples concatenated along axis 0 in
``name`` plus their offsets in ``name.ptr`` of shape ``(n_samples + 1,)``.

:class:`ShardedHDF5Dataset` keeps only the shard lengths in memory. File handles are opened on
first access in each process and never inherited across ``fork`` (an HDF5 handle shared between
processes corrupts reads), so data-loader workers each open their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

PTR = ".ptr"


def write_shards(
    directory: str | Path,
    columns: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    samples_per_shard: int,
    *,
    prefix: str = "shard",
) -> list[Path]:
    """Write columns of samples into HDF5 shards of at most ``samples_per_shard`` samples.

    Args:
        directory: created if missing.
        columns: ``name -> array (n, ...)`` for fixed-size samples, or ``name -> list`` of ``n``
            arrays whose first axis may differ (stored ragged).
        samples_per_shard: samples per file (the last file may hold fewer).

    Returns:
        The shard paths, in sample order. Each file is written to a temporary name first.
    """
    if samples_per_shard < 1:
        raise ValueError(f"samples_per_shard must be >= 1, got {samples_per_shard}")
    if not columns:
        raise ValueError("columns is empty: give at least one named array")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every column needs the same number of samples, got {lengths}")
    n = next(iter(lengths.values()))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, lo in enumerate(range(0, n, samples_per_shard)):
        hi = min(lo + samples_per_shard, n)
        path = directory / f"{prefix}-{k:05d}.h5"
        tmp = path.with_name(f".{path.name}.tmp")
        with h5py.File(tmp, "w") as file:
            file.attrs["n_samples"] = hi - lo
            for name, values in columns.items():
                if isinstance(values, np.ndarray):
                    file.create_dataset(name, data=values[lo:hi])
                else:
                    chunk = [np.asarray(v) for v in values[lo:hi]]
                    ptr = np.cumsum([0] + [len(v) for v in chunk], dtype=np.int64)
                    file.create_dataset(name, data=np.concatenate(chunk, axis=0))
                    file.create_dataset(name + PTR, data=ptr)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _resolve(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(paths, str | Path):
        root = Path(paths)
        if root.is_dir():
            found = sorted(root.glob("*.h5"))
            if not found:
                raise FileNotFoundError(f"no HDF5 shards (*.h5) in folder {str(root)!r}")
            return found
        paths = [root]
    out = [Path(p) for p in paths]
    for p in out:
        if not p.is_file():
            raise FileNotFoundError(f"HDF5 shard {str(p)!r} does not exist")
    if not out:
        raise FileNotFoundError("no HDF5 shards given")
    return out


class ShardedHDF5Dataset(Dataset):
    """Samples of HDF5 shards as ``{column: tensor}``, read one at a time.

    Args:
        paths: a folder of ``*.h5`` shards (sorted by name) or a list of shard files.
        columns: the columns to read; all columns of the first shard if None.
    """

    def __init__(
        self, paths: str | Path | Sequence[str | Path], columns: Sequence[str] | None = None
    ) -> None:
        self.paths = _resolve(paths)
        sizes, layout = [], None
        for path in self.paths:
            try:
                with h5py.File(path, "r") as file:
                    if "n_samples" not in file.attrs:
                        raise ValueError("attribute n_samples is missing")
                    sizes.append(int(file.attrs["n_samples"]))
                    names = sorted(k for k in file if not k.endswith(PTR))
                    this = {k: (k + PTR) in file for k in names}
            except (OSError, ValueError) as error:
                raise ValueError(f"{path}: not a readable noether HDF5 shard ({error})") from None
            if layout is None:
                layout = this
            elif this != layout:
                raise ValueError(f"{path}: columns {this} differ from the first shard's {layout}")
        assert layout is not None
        if columns is None:
            columns = list(layout)
        missing = [c for c in columns if c not in layout]
        if missing:
            raise ValueError(f"columns {missing} are not in the shards; available: {list(layout)}")
        self.columns = list(columns)
        self.ragged = {c: layout[c] for c in self.columns}
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._files: dict[int, h5py.File] = {}
        self._pid: int | None = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _file(self, shard: int) -> h5py.File:
        if self._pid != os.getpid():  # first use in this process (a forked worker, say)
            self._files, self._pid = {}, os.getpid()
        file = self._files.get(shard)
        if file is None:
            file = self._files[shard] = h5py.File(self.paths[shard], "r")
        return file

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"sample {index} out of range for {n} samples")
        shard = int(np.searchsorted(self.offsets, index, side="right") - 1)
        local = index - int(self.offsets[shard])
        file = self._file(shard)
        out = {}
        for column in self.columns:
            if self.ragged[column]:
                lo, hi = file[column + PTR][local : local + 2]
                value = file[column][lo:hi]
            else:
                value = file[column][local]
            out[column] = torch.from_numpy(np.asarray(value))
        return out

    def open_shards(self) -> int:
        """Number of shard files this process holds open."""
        return len(self._files) if self._pid == os.getpid() else 0

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_files"], state["_pid"] = {}, None
        return state
