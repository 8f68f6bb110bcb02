"""From a task's datasets to the data loaders of every process, with recorded splits."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from noether.core.errors import DataError
from noether.core.io import atomic_write_bytes
from noether.core.task import Splits, Task
from noether.train.config import DEFAULT_SPLIT, DataConfig
from noether.train.sampler import EpochBatchSampler

SPLIT_NAMES = ("train", "val", "test")


def split_indices(
    n: int, fractions: tuple[float, float, float], seed: int
) -> dict[str, np.ndarray]:
    """Random disjoint train/val/test indices of ``n`` samples with the given fractions."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_val, n_test = round(fractions[1] * n), round(fractions[2] * n)
    n_train = n - n_val - n_test
    return {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


def save_splits(path: Path, splits: dict[str, np.ndarray], mode: str) -> None:
    """Write ``splits.npz`` (``idx_train``, ``idx_val``, ``idx_test``, ``mode``) atomically."""
    import io

    buffer = io.BytesIO()
    arrays = {f"idx_{k}": np.asarray(v, dtype=np.int64) for k, v in splits.items()}
    np.savez(buffer, mode=np.array(mode), **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_splits(path: Path) -> dict[str, np.ndarray]:
    """The indices of a run's ``splits.npz``; a damaged file raises a
    :class:`~noether.core.errors.DataError` naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            splits = {k: data[f"idx_{k}"] for k in SPLIT_NAMES}
    except FileNotFoundError:
        raise
    except Exception as error:  # zipfile, zlib, numpy's header parser; KeyError: a missing split
        raise DataError(
            f"{path}: not a readable splits file ({type(error).__name__}: {error}); accepted: "
            f"an npz with integer arrays {', '.join(f'idx_{k}' for k in SPLIT_NAMES)}",
            file=path,
        ) from error
    for name, idx in splits.items():
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise DataError(
                f"{path}: idx_{name} is {idx.dtype} of shape {idx.shape}; accepted: a 1-D array "
                f"of integer indices",
                file=path,
                field=f"idx_{name}",
            )
    return splits


def make_datamodule(
    task: Task, config: DataConfig, seed: int, splits: dict[str, np.ndarray] | None = None
) -> L.LightningDataModule:
    """The data of a task: its own LightningDataModule as it is, or its datasets in a
    :class:`TaskDataModule`."""
    data = task.datasets()
    if isinstance(data, L.LightningDataModule):
        return data
    return TaskDataModule(task, data, config, seed, splits)


class TaskDataModule(L.LightningDataModule):
    """Datasets of a task, split and batched for this process.

    Args:
        task: the task that owns the data.
        data: what ``task.datasets()`` returned.
        config: the ``data:`` section.
        seed: the run's seed (splits and shuffling).
        splits: indices to reuse (from a run folder's ``splits.npz``), else drawn anew.
    """

    def __init__(
        self,
        task: Task,
        data: Dataset | Splits,
        config: DataConfig,
        seed: int,
        splits: dict[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        self.task, self.config, self.seed = task, config, seed
        if isinstance(data, Splits):
            self.mode = "task"
            parts = {"train": data.train, "val": data.val, "test": data.test}
            fresh = {
                k: np.arange(len(v)) if v is not None else np.arange(0) for k, v in parts.items()
            }
        elif isinstance(data, Dataset):
            self.mode = "fractions"
            parts = dict.fromkeys(SPLIT_NAMES, data)
            fresh = split_indices(len(data), config.split or DEFAULT_SPLIT, seed)
        else:
            raise TypeError(
                f"{type(task).__name__}.datasets() returned {type(data).__name__}; "
                f"accepted: a torch Dataset, noether.train.Splits or a LightningDataModule"
            )
        self.splits = fresh if splits is None else splits
        for name in SPLIT_NAMES:
            size = 0 if parts[name] is None else len(parts[name])
            idx = self.splits[name]
            if len(idx) and (idx.min() < 0 or idx.max() >= size):
                raise ValueError(
                    f"splits.npz: {name} indices reach {idx.max()} but the {name} data has {size} "
                    f"samples; the data changed since the run started"
                )
        self.parts = parts
        if len(self.splits["val"]) == 0:
            if self.mode == "fractions":
                split = list(config.split or DEFAULT_SPLIT)
                n, fraction = len(data), split[1]
                raise ValueError(
                    f"the validation split of {n} samples with fraction {fraction} is empty "
                    f"(data.split={split}); accepted: data.split[1] >= "
                    f"{1 / max(n, 1):.3g} (one sample)"
                )
            raise ValueError(
                f"the validation split is empty: {type(task).__name__}.datasets() gave no "
                f"validation samples; the task's own split options set its size"
            )

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch: full global batches of the training split."""
        return len(self.splits["train"]) // self.config.batch_size

    def subset(self, name: str) -> Dataset:
        """The samples of one split: ``"train"``, ``"val"`` or ``"test"``."""
        return Subset(self.parts[name], self.splits[name].tolist())

    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(self, dataset: Dataset, **kwargs) -> DataLoader:
        # Its own generator: a loader then draws no numbers from the global RNG (whose state a
        # checkpoint restores), so a resumed run sees the same dropout masks.
        return DataLoader(
            dataset,
            collate_fn=self.task.collate,
            num_workers=self.config.num_workers,
            persistent_workers=False,
            generator=torch.Generator().manual_seed(self.seed),
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        rank, world = self._world()
        module = self.trainer.lightning_module if self.trainer is not None else None
        start = getattr(module, "resume_position", None) or (0, 0)
        sampler = EpochBatchSampler(
            len(self.splits["train"]),
            self.config.batch_size,
            self.seed,
            rank=rank,
            world_size=world,
            shuffle=self.config.shuffle,
            start=start,
        )
        return self._loader(self.subset("train"), batch_sampler=sampler)

    def _eval_loader(self, name: str) -> DataLoader:
        rank, world = self._world()
        if len(self.splits[name]) < world:
            raise ValueError(
                f"the {name} split has {len(self.splits[name])} samples, fewer than the "
                f"{world} processes; every process needs at least one"
            )
        idx = self.splits[name][rank::world].tolist()
        batch = math.ceil((self.config.eval_batch_size or self.config.batch_size) / world)
        return self._loader(Subset(self.parts[name], idx), batch_size=batch, shuffle=False)

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        if len(self.splits["test"]) == 0:
            raise ValueError("the test split is empty: this run has no test data to evaluate")
        return self._eval_loader("test")
