"""`PropertyDataset`: molecules with graph-level scalar targets (one value per molecule)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from noether.atoms.elements import MAX_Z
from noether.core.errors import DataError
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
        self.numbers = np.asarray(self.numbers)
        if self.numbers.dtype.kind not in "iu" or self.numbers.ndim != 1:
            raise ValueError(
                f"numbers ({self.numbers.dtype}, shape {self.numbers.shape}) must be a 1-D array "
                f"of integer atomic numbers"
            )
        self.numbers = self.numbers.astype(np.int64)
        if self.numbers.size and (self.numbers.min() < 1 or self.numbers.max() > MAX_Z):
            bad = self.numbers[(self.numbers < 1) | (self.numbers > MAX_Z)][0]
            raise ValueError(f"atomic number {bad} is not an element; accepted: 1 (H) to {MAX_Z}")
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.offsets = np.asarray(self.offsets)
        if self.offsets.dtype.kind not in "iu" or self.offsets.ndim != 1:
            raise ValueError(
                f"offsets ({self.offsets.dtype}, shape {self.offsets.shape}) must be a 1-D array "
                f"of integers"
            )
        self.offsets = self.offsets.astype(np.int64)
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.numbers):
            raise ValueError(
                f"offsets must run from 0 to the number of atoms ({len(self.numbers)}), "
                f"got {self.offsets[:1]}...{self.offsets[-1:]}"
            )
        if (np.diff(self.offsets) < 1).any():
            k = int(np.flatnonzero(np.diff(self.offsets) < 1)[0])
            raise ValueError(f"offsets: molecule {k} has no atoms; accepted: rising offsets")
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
        if self.names and len(self.names) != n:
            raise ValueError(f"{len(self.names)} names for {n} molecules")

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
        """Read an npz written by :meth:`save`; anything wrong with the file raises a
        :class:`~noether.core.errors.DataError` naming it."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as err:  # zipfile, zlib and numpy's header parser raise many types
            raise DataError(
                f"{path}: not a noether property dataset (not a readable npz archive: "
                f"{type(err).__name__}: {err})",
                file=path,
            ) from err
        try:
            for key in ("names", "target_names", "target_units"):
                if arrays[key].dtype.kind != "U":
                    raise ValueError(f"{key} has dtype {arrays[key].dtype}; accepted: strings")
            names = [str(n) for n in arrays["target_names"].reshape(-1)]
            units = [str(u) for u in arrays["target_units"].reshape(-1)]
            stored = sorted(k.removeprefix("target_") for k in arrays if k.startswith("target_"))
            if sorted([*names, "names", "units"]) != stored or len(units) != len(names):
                raise ValueError(
                    f"target_names {names} and target_units {units} do not match the stored "
                    f"targets {[k for k in stored if k not in ('names', 'units')]}"
                )
            targets = {n: arrays[f"target_{n}"] for n in names}
            for name, values in targets.items():
                if values.dtype.kind not in "iuf" or not np.isfinite(values).all():
                    raise ValueError(f"target {name!r} holds non-finite or non-numeric values")
            return cls(
                arrays["numbers"],
                _numbers(arrays["positions"]),
                arrays["offsets"],
                targets,
                dict(zip(names, units)),
                [str(n) for n in arrays["names"].reshape(-1)],
            )
        except KeyError as err:
            raise DataError(
                f"{path}: not a noether property dataset (no {err.args[0]!r} array; it has "
                f"{sorted(arrays)})",
                file=path,
                field=str(err.args[0]),
            ) from None
        except (ValueError, TypeError) as err:
            raise DataError(f"{path}: not a noether property dataset ({err})", file=path) from err


def _numbers(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind not in "iuf":
        raise ValueError(f"positions have dtype {value.dtype}; accepted: numbers")
    return value
