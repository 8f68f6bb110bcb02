"""The ``properties`` training task: graph-level scalar targets of molecules (QM9-style).

``task: {name: properties, path: data/properties.npz, targets: [gap, mu, energy]}``. The data are
a :class:`PropertyDataset` npz (``noether data properties``) or public QM9 files (a ``.xyz``, a
folder of them, or ``dsgdb9nsd.xyz.tar.bz2``). The loss is the mean over targets of the L1 (the
paper's choice) or squared error of standardised targets; mean and standard deviation of the
training split go to the model as ``target_mean`` / ``target_std``. Errors are reported per target
in its own unit (eV, D, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from noether.atoms.properties.dataset import PropertyDataset
from noether.atoms.properties.qm9 import read_qm9
from noether.atoms.splits import make_splits
from noether.core.errors import DataError
from noether.core.registry import register_task
from noether.core.task import DataPath, Splits, Task

__all__ = ["PropertyTask", "collate_properties", "load_properties"]


def load_properties(path: str | Path) -> PropertyDataset:
    """A :class:`PropertyDataset` npz, or QM9 files (``.xyz``, a folder, a tar archive)."""
    path = Path(path)
    if path.suffix == ".npz":
        return PropertyDataset.load(path)
    return read_qm9(path)


def collate_properties(samples: list[dict], targets: list[str]) -> dict[str, Tensor]:
    """Molecules as one flat graph: numbers, positions, batch index and ``(G, T)`` targets."""
    sizes = torch.tensor([s["numbers"].numel() for s in samples])
    return {
        "numbers": torch.cat([s["numbers"] for s in samples]),
        "positions": torch.cat([s["positions"] for s in samples]),
        "batch": torch.repeat_interleave(torch.arange(len(samples)), sizes),
        "targets": torch.tensor(
            [[s["targets"][t] for t in targets] for s in samples], dtype=torch.float64
        ),
    }


@register_task("properties")
class PropertyTask(Task):
    """Fit graph-level properties.

    Args:
        path: the data (see the module docstring).
        targets: names of the targets to fit (e.g. ``gap``, ``mu``, ``energy``; QM9: ``homo``,
            ``lumo``, ``alpha``, ``U0``, ...).
        split: train/val/test fractions or counts, drawn with ``split_seed``.
        split_by: "molecule" (all conformers of one molecule, by name, fall in the same split, so
            the test set holds unseen molecules) or "sample" (each entry on its own, as QM9).
        loss: "l1" or "mse" on standardised targets.
    """

    def __init__(
        self,
        path: DataPath,
        targets: list[str] | None = None,
        split: list[float] | None = None,
        split_seed: int = 0,
        split_by: str = "molecule",
        loss: str = "l1",
    ) -> None:
        if loss not in ("l1", "mse"):
            raise ValueError(f"loss must be 'l1' or 'mse', got {loss!r}")
        if split_by not in ("molecule", "sample"):
            raise ValueError(f"split_by must be 'molecule' or 'sample', got {split_by!r}")
        self.split_by = split_by
        self.path = path
        self.targets = list(targets) if targets else ["gap"]
        self.split = list(split) if split is not None else [0.8, 0.1, 0.1]
        if len(self.split) != 3:
            raise ValueError(f"split needs three sizes (train, val, test), got {self.split}")
        self.split_seed, self.loss_name = split_seed, loss
        self._data: PropertyDataset | None = None
        self._indices: dict[str, np.ndarray] | None = None
        self._std: Tensor | None = None
        self.units: dict[str, str] = {}

    def _load(self) -> tuple[PropertyDataset, dict[str, np.ndarray]]:
        if self._data is None:
            data = load_properties(self.path)
            missing = [t for t in self.targets if t not in data.targets]
            if missing:
                raise DataError(
                    f"{self.path} has no target(s) {missing}; accepted: {', '.join(data.targets)}",
                    file=self.path,
                    field="task.targets",
                )
            sizes: list[int | float | None] = [
                int(s) if float(s).is_integer() and s >= 1 else float(s) for s in self.split
            ]
            if all(isinstance(s, float) for s in sizes) and abs(sum(sizes) - 1.0) < 1e-9:
                sizes[2] = None
            try:
                if self.split_by == "molecule" and data.names:
                    groups, inverse = np.unique(np.array(data.names), return_inverse=True)
                    picked = make_splits(len(groups), *sizes, seed=self.split_seed)
                    self._indices = {
                        k: np.flatnonzero(np.isin(inverse, v)) for k, v in picked.items()
                    }
                else:
                    self._indices = make_splits(len(data), *sizes, seed=self.split_seed)
            except ValueError as err:  # sizes that need more molecules than the file has
                raise DataError(
                    f"{self.path}: task.split {self.split}: {err}",
                    file=self.path,
                    field="task.split",
                ) from None
            self._data = data
            self.units = {t: data.units.get(t, "") for t in self.targets}
        return self._data, self._indices

    def datasets(self) -> Splits:
        data, idx = self._load()
        return Splits(*(data.subset(idx[f"idx_{k}"]) for k in ("train", "val", "test")))

    def _statistics(self) -> tuple[list[float], list[float]]:
        data, idx = self._load()
        train = np.stack([data.targets[t][idx["idx_train"]] for t in self.targets], axis=1)
        std = train.std(axis=0)
        return train.mean(axis=0).tolist(), np.where(std > 1e-12, std, 1.0).tolist()

    def model_defaults(self) -> dict[str, Any]:
        mean, std = self._statistics()
        return {"n_targets": len(self.targets), "target_mean": mean, "target_std": std}

    def collate(self, samples: list) -> dict[str, Tensor]:
        return collate_properties(samples, self.targets)

    def batch_size(self, batch: dict[str, Tensor]) -> int:
        return int(batch["targets"].shape[0])

    def forward(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        return model(batch["numbers"], batch["positions"], batch["batch"])

    def loss(self, pred: Tensor, batch: dict[str, Tensor]) -> Tensor:
        if self._std is None:
            self._std = torch.tensor(self._statistics()[1])
        err = (pred - batch["targets"].to(pred.dtype)) / self._std.to(pred)
        return err.abs().mean() if self.loss_name == "l1" else err.square().mean()

    def compare(self, pred: Tensor, batch: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
        ref = batch["targets"].to(pred.dtype)
        return {t: (pred[:, k], ref[:, k]) for k, t in enumerate(self.targets)}
