"""Readers and writers: sGDML npz, rMD17 npz, extended XYZ (ASE) and HDF5.

:func:`read_dataset` and :func:`write_dataset` pick the format from the name or the file:
``.xyz``/``.extxyz`` → extended XYZ, ``.h5``/``.hdf5`` → HDF5, ``.npz`` → sGDML when it holds
``R`` and ``z``, rMD17 when it holds ``coords`` and ``nuclear_charges``.
"""

from __future__ import annotations

import os
from pathlib import Path

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats._common import load_npz
from noether.atoms.formats.extxyz import read_extxyz, write_extxyz
from noether.atoms.formats.hdf5 import (
    HDF5Dataset,
    HDF5Writer,
    read_frame_info,
    read_hdf5,
    write_hdf5,
)
from noether.atoms.formats.npz import read_rmd17, read_sgdml, write_rmd17, write_sgdml
from noether.core.errors import DataError

__all__ = [
    "FORMATS",
    "HDF5Dataset",
    "HDF5Writer",
    "guess_format",
    "read_dataset",
    "read_extxyz",
    "read_frame_info",
    "read_hdf5",
    "read_rmd17",
    "read_sgdml",
    "write_dataset",
    "write_extxyz",
    "write_hdf5",
    "write_rmd17",
    "write_sgdml",
]

FORMATS = ("extxyz", "hdf5", "sgdml", "rmd17")
_READERS = {"extxyz": read_extxyz, "hdf5": read_hdf5, "sgdml": read_sgdml, "rmd17": read_rmd17}
_WRITERS = {"extxyz": write_extxyz, "hdf5": write_hdf5, "sgdml": write_sgdml, "rmd17": write_rmd17}


def guess_format(path: str | os.PathLike, *, for_writing: bool = False) -> str:
    """The format of ``path`` from its extension (and, for npz files being read, its keys)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".xyz", ".extxyz"):
        return "extxyz"
    if suffix in (".h5", ".hdf5"):
        return "hdf5"
    if suffix == ".npz":
        if for_writing:
            return "sgdml"
        keys = set(load_npz(path))
        if {"R", "z"} <= keys:
            return "sgdml"
        if {"coords", "nuclear_charges"} <= keys:
            return "rmd17"
        raise DataError(
            f"{path}: an npz with keys {sorted(keys)} is neither sGDML (z, R, E, F) nor rMD17 "
            f"(nuclear_charges, coords, energies, forces)",
            file=path,
        )
    raise DataError(
        f"{path}: cannot tell the format from the extension {suffix!r}; accepted: .xyz, .extxyz, "
        f".h5, .hdf5, .npz, or pass format= one of {FORMATS}",
        file=path,
        accepted=".xyz, .extxyz, .h5, .hdf5, .npz",
    )


def read_dataset(path: str | os.PathLike, format: str | None = None, **options) -> AtomsDataset:
    """Read ``path`` into an :class:`AtomsDataset`; ``options`` go to the format's reader."""
    fmt = format or guess_format(path)
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    return _READERS[fmt](path, **options)


def write_dataset(
    path: str | os.PathLike, ds: AtomsDataset, format: str | None = None, **options
) -> None:
    """Write ``ds`` to ``path`` atomically; ``options`` go to the format's writer."""
    fmt = format or guess_format(path, for_writing=True)
    if fmt not in _WRITERS:
        raise ValueError(f"unknown format {fmt!r}; accepted: {', '.join(FORMATS)}")
    _WRITERS[fmt](path, ds, **options)
