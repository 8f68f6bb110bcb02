"""Helpers shared by the readers: open files with clear errors, fetch keys, convert units."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from noether.atoms.dataset import AtomsDataset
from noether.atoms.units import energy_factor, force_factor, length_factor, stress_factor
from noether.core.errors import DataError

__all__ = ["from_native_units", "load_npz", "numeric", "require_key", "to_native_units"]


def check_file(path: str | os.PathLike, expected: str) -> Path:
    """``path`` as a Path; raise if it does not exist or is empty (naming what was expected)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected {expected}", file=path, accepted=expected)
    if path.stat().st_size == 0:
        raise DataError(
            f"{path}: the file is empty; expected {expected}", file=path, accepted=expected
        )
    return path


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an npz file; a missing, empty or corrupt file raises a ValueError naming it."""
    path = check_file(path, "an npz archive")
    try:
        listed = _listed_entries(path)
        with np.load(path, allow_pickle=False) as data:
            if listed is not None and listed != len(data.zip.infolist()):
                raise DataError(
                    f"{path}: the npz archive lists {listed} arrays but {len(data.zip.infolist())} "
                    f"can be found; its directory is damaged",
                    file=path,
                )
            return {k: data[k] for k in data.files}
    except DataError:
        raise
    except Exception as err:  # zipfile, zlib and numpy's header parser raise many types
        raise DataError(
            f"{path}: not a readable npz archive ({type(err).__name__}: {err})", file=path
        ) from err


def _listed_entries(path: Path) -> int | None:
    """The entry count of a zip's end record (the last 22 bytes when it has no comment, as
    numpy writes it), or None if there is none to read. Python's zipfile stops without an error
    where a damaged directory ends early, losing the arrays after it."""
    with open(path, "rb") as file:
        file.seek(max(path.stat().st_size - 22, 0))
        end = file.read(22)
    if len(end) < 22 or end[:4] != b"PK\x05\x06":
        return None
    count = int.from_bytes(end[10:12], "little")
    return None if count == 0xFFFF else count  # 0xFFFF: a ZIP64 archive keeps it elsewhere


def require_key(data: dict, key: str, path: str | os.PathLike, fmt: str) -> np.ndarray:
    if key not in data:
        raise DataError(
            f"{path}: the {fmt} file has no '{key}' array; it has {sorted(data)}",
            file=path,
            field=key,
        )
    return data[key]


def numeric(value: np.ndarray | None, key: str, path: str | os.PathLike) -> np.ndarray | None:
    """``value`` as float64, or a :class:`DataError` naming the file and key if it holds
    anything but numbers (strings, say)."""
    if value is None:
        return None
    value = np.asarray(value)
    if value.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: '{key}' has dtype {value.dtype}; accepted: numbers",
            file=path,
            field=key,
            value=str(value.dtype),
            accepted="numbers",
        )
    return value.astype(np.float64)


def _scalar_str(value: np.ndarray | str | None) -> str | None:
    if value is None:
        return None
    return str(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else None


def to_native_units(
    positions: np.ndarray,
    energy: np.ndarray | None,
    forces: np.ndarray | None,
    energy_unit: str,
    length_unit: str,
    stress: np.ndarray | None = None,
    cell: np.ndarray | None = None,
    source: str | os.PathLike | None = None,
) -> tuple:
    """Convert arrays from (energy_unit, length_unit) to eV, Å, eV/Å, eV/Å³; an unknown unit
    raises a :class:`DataError` naming ``source``."""
    try:
        lf = length_factor(length_unit)
        ef = energy_factor(energy_unit)
        ff = force_factor(energy_unit, length_unit)
        sf = stress_factor(energy_unit, length_unit)
    except (TypeError, ValueError) as err:
        raise DataError(str(err), file=source, field="units") from None
    return (
        positions * lf,
        None if energy is None else energy * ef,
        None if forces is None else forces * ff,
        None if stress is None else stress * sf,
        None if cell is None else cell * lf,
    )


def from_native_units(ds: AtomsDataset, energy_unit: str, length_unit: str) -> dict:
    """The dataset's arrays expressed in (energy_unit, length_unit)."""
    lf = length_factor(length_unit)
    ef = energy_factor(energy_unit)
    ff = force_factor(energy_unit, length_unit)
    sf = stress_factor(energy_unit, length_unit)
    return {
        "positions": ds.positions / lf,
        "energy": None if ds.energy is None else ds.energy / ef,
        "forces": None if ds.forces is None else ds.forces / ff,
        "stress": None if ds.stress is None else ds.stress / sf,
        "cell": None if ds.cell is None else ds.cell / lf,
    }


def fixed_composition(ds: AtomsDataset, fmt: str) -> np.ndarray:
    """The atomic numbers shared by every frame; raise if frames differ (npz formats need one)."""
    sizes = ds.n_atoms
    if (sizes != sizes[0]).any():
        k = int(np.flatnonzero(sizes != sizes[0])[0])
        raise ValueError(
            f"the {fmt} format holds one molecule: frame {k} has {sizes[k]} atoms, frame 0 has "
            f"{sizes[0]}; use extxyz or hdf5 for mixed sets"
        )
    numbers = ds.numbers.reshape(len(ds), -1)
    differ = (numbers != numbers[0]).any(axis=1)
    if differ.any():
        k = int(np.flatnonzero(differ)[0])
        raise ValueError(
            f"the {fmt} format holds one molecule: frame {k} has atomic numbers "
            f"{numbers[k].tolist()}, frame 0 has {numbers[0].tolist()}; use extxyz or hdf5"
        )
    return numbers[0]


def require_all_labels(ds: AtomsDataset, fmt: str, names=("energy", "forces")) -> None:
    for name in names:
        mask = ds.label_mask(name)
        if getattr(ds, name) is not None and not mask.all():
            k = int(np.flatnonzero(~mask)[0])
            raise ValueError(
                f"the {fmt} format cannot mark a missing {name}: frame {k} has none; "
                f"use extxyz or hdf5, or take the subset of labelled frames"
            )
