"""`PropertyDataset`: molecules with graph-level scalar targets (one value per molecule)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from noether.core.io import atomic_path

__all__ = ["PropertyDataset"]


@dataclass
class PropertyDataset(torch.utils.data.Dataset):
    """``n`` molecules; atoms of molecule ``k`` are ``offsets[k]:offsets[k+1]``.

    Attributes:
        numbers: ``(n_atoms_total,)`` int64. positions: ``(n_atoms_total, 3)`` Å.
        offsets: ``(n + 1,)`` int64.
        targets: name -> ``(n,)`` float64 values, in ``units[name]``.
        units: name -> unit string (eV, D, a0³, ...).
        names: ``n`` labels (SMILES or QM9 index).
    """

    numbers: np.ndarray
    positions: np.ndarray
    offsets: np.ndarray
    targets: dict[str, np.ndarray]
    units: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.numbers = np.asarray(self.numbers, dtype=np.int64)
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        n = len(self.offsets) - 1
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.numbers) or n < 0:
            raise ValueError(
                f"offsets must run from 0 to the number of atoms ({len(self.numbers)}), "
                f"got {self.offsets[:1]}...{self.offsets[-1:]}"
            )
        if len(self.positions) != len(self.numbers):
            raise ValueError(
                f"{len(self.positions)} positions for {len(self.numbers)} atomic numbers"
            )
        for name, values in list(self.targets.items()):
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (n,):
                raise ValueError(f"target {name!r} has shape {values.shape}, expected ({n},)")
            self.targets[name] = values
        if not np.isfinite(self.positions).all():
            raise ValueError("positions contain NaN or inf; accepted: finite Å")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, k: int) -> dict:
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        return {
            "numbers": torch.from_numpy(self.numbers[a:b]),
            "positions": torch.from_numpy(self.positions[a:b]),
            "targets": {name: float(v[k]) for name, v in self.targets.items()},
        }

    def subset(self, indices) -> PropertyDataset:
        indices = np.asarray(indices, dtype=np.int64)
        sizes = np.diff(self.offsets)[indices]
        atoms = np.concatenate(
            [np.arange(self.offsets[k], self.offsets[k + 1]) for k in indices]
        ) if len(indices) else np.zeros(0, dtype=np.int64)  # fmt: skip
        return PropertyDataset(
            self.numbers[atoms],
            self.positions[atoms],
            np.concatenate([[0], np.cumsum(sizes)]),
            {k: v[indices] for k, v in self.targets.items()},
            dict(self.units),
            [self.names[k] for k in indices] if self.names else [],
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write an npz (atomically)."""
        arrays = {
            "numbers": self.numbers,
            "positions": self.positions,
            "offsets": self.offsets,
            "names": np.array(self.names, dtype=str),
            "target_names": np.array(list(self.targets), dtype=str),
            "target_units": np.array([self.units.get(k, "") for k in self.targets], dtype=str),
        }
        arrays.update({f"target_{k}": v for k, v in self.targets.items()})
        with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> PropertyDataset:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            with np.load(path) as data:
                names = [str(n) for n in data["target_names"]]
                return cls(
                    data["numbers"],
                    data["positions"],
                    data["offsets"],
                    {n: data[f"target_{n}"] for n in names},
                    dict(zip(names, (str(u) for u in data["target_units"]))),
                    [str(n) for n in data["names"]],
                )
        except (KeyError, ValueError, OSError) as err:
            raise ValueError(f"{path}: not a noether property dataset ({err})") from err
