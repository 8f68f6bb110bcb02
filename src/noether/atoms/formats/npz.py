"""sGDML npz (``z, R, E, F``; MD17, MD22) and revised-MD17 npz (``nuclear_charges, coords,
energies, forces``).

Both hold one molecule (fixed atomic numbers) over many frames. sGDML files carry their units in
``e_unit`` and ``r_unit`` (kcal/mol and Ang in the published sets); rMD17 files carry none and are in
kcal/mol and Å. Readers convert to eV and Å; writers use the format's native units unless told.
"""

from __future__ import annotations

import os

import numpy as np

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats._common import (
    _scalar_str,
    fixed_composition,
    from_native_units,
    load_npz,
    numeric,
    require_all_labels,
    require_key,
    to_native_units,
)
from noether.core.errors import DataError
from noether.core.io import atomic_path

__all__ = ["read_rmd17", "read_sgdml", "write_rmd17", "write_sgdml"]


def _build(path, keys, z, r, e, f, energy_unit, length_unit) -> AtomsDataset:
    """The dataset of one npz; ``keys`` name its arrays (z, R, E, F) in the file's terms."""
    r, e, f = (numeric(v, k, path) for v, k in zip((r, e, f), keys[1:]))
    if r.ndim != 3 or r.shape[-1] != 3:
        raise DataError(
            f"{path}: '{keys[1]}' has shape {r.shape}; expected (frames, atoms, 3)",
            file=path,
            field=keys[1],
            value=r.shape,
            accepted="(frames, atoms, 3)",
        )
    r, e, f, _, _ = to_native_units(r, e, f, energy_unit, length_unit, source=path)
    return AtomsDataset.from_arrays(np.asarray(z), r, e, f, source=str(path))


def read_sgdml(
    path: str | os.PathLike,
    *,
    energy_unit: str | None = None,
    length_unit: str | None = None,
) -> AtomsDataset:
    """Read an sGDML npz. Units: the arguments if given, else the file's ``e_unit``/``r_unit``,
    else kcal/mol and Å. ``E`` and ``F`` are optional (unlabelled geometries)."""
    data = load_npz(path)
    z = require_key(data, "z", path, "sGDML")
    r = require_key(data, "R", path, "sGDML")
    energy_unit = energy_unit or _scalar_str(data.get("e_unit")) or "kcal/mol"
    length_unit = length_unit or _scalar_str(data.get("r_unit")) or "Ang"
    return _build(
        path, ("z", "R", "E", "F"), z, r, data.get("E"), data.get("F"), energy_unit, length_unit
    )


def read_rmd17(
    path: str | os.PathLike, *, energy_unit: str = "kcal/mol", length_unit: str = "Ang"
) -> AtomsDataset:
    """Read a revised-MD17 npz (kcal/mol and Å unless told otherwise)."""
    data = load_npz(path)
    z = require_key(data, "nuclear_charges", path, "rMD17")
    r = require_key(data, "coords", path, "rMD17")
    e = require_key(data, "energies", path, "rMD17")
    f = require_key(data, "forces", path, "rMD17")
    keys = ("nuclear_charges", "coords", "energies", "forces")
    return _build(path, keys, z, r, e, f, energy_unit, length_unit)


def _arrays(ds: AtomsDataset, fmt: str, energy_unit: str, length_unit: str):
    z = fixed_composition(ds, fmt)
    require_all_labels(ds, fmt)
    conv = from_native_units(ds, energy_unit, length_unit)
    shape = (len(ds), len(z), 3)
    forces = None if conv["forces"] is None else conv["forces"].reshape(shape)
    return z, conv["positions"].reshape(shape), conv["energy"], forces


def write_sgdml(
    path: str | os.PathLike,
    ds: AtomsDataset,
    *,
    energy_unit: str = "kcal/mol",
    length_unit: str = "Ang",
    name: str = "",
    theory: str = "",
) -> None:
    """Write an sGDML npz (``z, R, E (F, 1), F`` plus ``e_unit``, ``r_unit``), atomically."""
    z, r, e, f = _arrays(ds, "sGDML", energy_unit, length_unit)
    out = {
        "z": z.astype(np.int64),
        "R": r,
        "e_unit": np.array(energy_unit),
        "r_unit": np.array(length_unit),
        "name": np.array(name),
        "theory": np.array(theory),
        "type": np.array("d"),
    }
    if e is not None:
        out["E"] = e[:, None]
    if f is not None:
        out["F"] = f
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **out)


def write_rmd17(
    path: str | os.PathLike,
    ds: AtomsDataset,
    *,
    energy_unit: str = "kcal/mol",
    length_unit: str = "Ang",
) -> None:
    """Write a revised-MD17 npz (needs energies and forces on every frame), atomically."""
    z, r, e, f = _arrays(ds, "rMD17", energy_unit, length_unit)
    if e is None or f is None:
        raise ValueError("the rMD17 format needs energies and forces on every frame")
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, nuclear_charges=z.astype(np.int64), coords=r, energies=e, forces=f)
