"""Datasets larger than memory: HDF5 shards read lazily, opened in each worker after the fork.

The files are :mod:`noether.core.shards` column stores (``shard-00000.h5``, ...: attribute
``n_samples``; per column a dataset ``(n_samples, ...)`` or, for samples whose first axis varies,
the samples back to back plus offsets in ``name.ptr``). This module gives them to the trainer as
a torch ``Dataset`` of tensors; :func:`write_shards` is the layer's writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from noether.core.shards import PTR, ShardedColumns, write_shards

__all__ = ["PTR", "ShardedHDF5Dataset", "write_shards"]


class ShardedHDF5Dataset(Dataset):
    """Samples of HDF5 shards as ``{column: tensor}``, read one at a time.

    Args:
        paths: a folder of ``*.h5`` shards (sorted by name) or a list of shard files.
        columns: the columns to read; all columns of the first shard if None.
    """

    def __init__(
        self, paths: str | Path | Sequence[str | Path], columns: Sequence[str] | None = None
    ) -> None:
        self.store = ShardedColumns(paths, columns)
        self.paths, self.columns = self.store.paths, self.store.columns
        self.ragged, self.offsets = self.store.ragged, self.store.offsets

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in self.store.read(index).items()}

    def open_shards(self) -> int:
        """Number of shard files this process holds open."""
        return self.store.open_shards()

    def close(self) -> None:
        self.store.close()
