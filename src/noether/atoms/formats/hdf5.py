"""HDF5 for large sets: the flat :class:`AtomsDataset` layout, appendable and read lazily.

Layout (format ``noether.atoms``, version 1), all at the file's root:

==================  ================  ===========================================
``numbers``         (N,) int16        atomic numbers of all frames back to back
``positions``       (N, 3) float64    Å
``offsets``         (F + 1,) int64    frame k is atoms offsets[k]:offsets[k+1]
``energy``          (F,) float64      eV, with ``energy_mask`` (F,) bool
``forces``          (N, 3) float64    eV/Å, with ``forces_mask`` (F,) bool
``stress``          (F, 3, 3)         eV/Å³, with ``stress_mask`` (F,) bool
``cell``, ``pbc``   (F, 3, 3), (F, 3) Å and bool
``charges``         (N,)              e
``frame_info/<k>``  (F,)              optional per-frame labels: strings (UTF-8),
                                      integers or floats (e.g. a polymer family)
==================  ================  ===========================================

Root attributes ``energy_unit`` and ``length_unit`` name the stored units (eV and Ang when written
here; a file written elsewhere in Hartree and Bohr is converted on read). Datasets are chunked and
resizable, so :class:`HDF5Writer` appends frames as they are made. :class:`HDF5Dataset` reads one
frame at a time and opens the file lazily in each process (an h5py handle must not cross a fork).
The ``frame_info`` group is read with :func:`read_frame_info`; readers of the frames ignore it, so
a file with it is still a plain version-1 file.

Why this is not built on :mod:`noether.core.shards` (the shard layer of the rigid scenes and of
``train/shards.py``): this is a public single-file format with its own documented layout, read by
users' tools, and it is appendable (resizable datasets that :class:`HDF5Writer` grows frame by
frame while MD runs), whereas a shard is written once, whole, at a fixed row count and lives in a
folder of shards. Its per-atom arrays with ``offsets`` are the same idea as the layer's ragged
columns with ``name.ptr``, but renaming them would break every file already written. What the two
share is the atomic write (:func:`noether.core.io.atomic_path`) and the lazy, fork-safe opening.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
import torch

from noether.atoms.dataset import AtomsDataset, AtomsSample
from noether.atoms.formats._common import check_file, to_native_units
from noether.core.errors import DataError
from noether.core.io import atomic_path

__all__ = ["HDF5Dataset", "HDF5Writer", "read_frame_info", "read_hdf5", "write_hdf5"]

FORMAT = "noether.atoms"
VERSION = 1
INFO = "frame_info"
_PER_ATOM = {"numbers": (), "positions": (3,), "forces": (3,), "charges": ()}
_PER_FRAME = {
    "energy": (),
    "energy_mask": (),
    "forces_mask": (),
    "stress": (3, 3),
    "stress_mask": (),
    "cell": (3, 3),
    "pbc": (3,),
}
_DTYPES = {
    "numbers": np.int16,
    "pbc": bool,
    "energy_mask": bool,
    "forces_mask": bool,
    "stress_mask": bool,
}


def _open(path: str | os.PathLike) -> h5py.File:
    path = check_file(path, "an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})", file=path) from err
    try:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode("utf-8", "replace")
        if fmt != FORMAT:
            raise DataError(
                f"{path}: HDF5 attribute 'format' is {fmt!r}; expected {FORMAT!r} "
                f"(the layout written by noether.atoms.write_hdf5)",
                file=path,
                field="format",
                accepted=FORMAT,
            )
        for key in ("numbers", "positions", "offsets"):
            if not isinstance(f.get(key), h5py.Dataset):
                raise DataError(
                    f"{path}: the HDF5 file has no '{key}' dataset; it has {sorted(f)}",
                    file=path,
                    field=key,
                )
    except BaseException as err:
        f.close()
        if isinstance(err, DataError):
            raise
        raise _unreadable(path, err) from err
    return f


def _unreadable(path, err: BaseException) -> DataError:
    """The error of an HDF5 file that opened but whose metadata or data do not read back (a
    flipped byte in a header, a truncated chunk): h5py raises OSError, KeyError, RuntimeError..."""
    return DataError(
        f"{path}: a corrupt HDF5 file ({type(err).__name__}: {err}); write it again",
        file=path,
    )


def _read(f: h5py.File, path, keys, rows: slice | None = None) -> dict[str, np.ndarray]:
    """The datasets ``keys`` of ``f`` (their ``rows`` if given); a corrupt dataset or one that
    is a group raises a :class:`DataError` naming the file and the dataset."""
    out = {}
    for key in keys:
        try:
            dset = f[key]
            if not isinstance(dset, h5py.Dataset):
                raise DataError(
                    f"{path}: '{key}' is an HDF5 group; expected a dataset", file=path, field=key
                )
            out[key] = dset[()] if rows is None or dset.ndim == 0 else dset[rows]
        except DataError:
            raise
        except Exception as err:  # h5py raises OSError, KeyError, RuntimeError, ... on corruption
            raise DataError(
                f"{path}: dataset '{key}' of the HDF5 file does not read back "
                f"({type(err).__name__}: {err}); the file is corrupt",
                file=path,
                field=key,
            ) from err
    return out


def _check_offsets(offsets: np.ndarray, n_atoms: int, path) -> np.ndarray:
    """``offsets`` checked against the layout: ``(F + 1,)`` integers from 0 rising strictly to
    the number of atoms."""
    offsets = np.asarray(offsets)
    accepted = f"(frames + 1,) integers rising strictly from 0 to {n_atoms} (the atoms)"
    if (
        offsets.ndim != 1
        or offsets.size < 2
        or offsets.dtype.kind not in "iu"
        or offsets[0] != 0
        or offsets[-1] != n_atoms
        or (np.diff(offsets) <= 0).any()
    ):
        raise DataError(
            f"{path}: 'offsets' ({offsets.dtype}, shape {offsets.shape}) is not {accepted}",
            file=path,
            field="offsets",
            accepted=accepted,
        )
    return offsets.astype(np.int64)


class HDF5Writer:
    """Append frames to a new HDF5 file; the file appears at ``path`` only on :meth:`close`.

    Use as a context manager; on an exception the partial file is discarded.
    """

    def __init__(self, path: str | os.PathLike, *, compression: str | None = "gzip"):
        self.path = Path(path)
        self._ctx = atomic_path(self.path, ".h5")
        self._tmp = self._ctx.__enter__()
        self._file = h5py.File(self._tmp, "w")
        self._file.attrs.update(
            {"format": FORMAT, "version": VERSION, "energy_unit": "eV", "length_unit": "Ang"}
        )
        self._compression = compression
        self._frames = 0
        self._atoms = 0
        self._info: list[str] = []
        self._file.create_dataset(
            "offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(4096,)
        )

    def _append(self, name: str, value: np.ndarray, tail: tuple) -> None:
        if not name.startswith(INFO):
            value = np.asarray(value, dtype=_DTYPES.get(name, np.float64))
        if name not in self._file:
            rows = min(max(len(value), 1), 4096)
            self._file.create_dataset(
                name,
                data=value,
                maxshape=(None, *tail),
                chunks=(rows, *tail),
                compression=self._compression,
            )
            return
        dset = self._file[name]
        start = dset.shape[0]
        dset.resize(start + len(value), axis=0)
        dset[start:] = value

    def append(self, ds: AtomsDataset, info: Mapping[str, Sequence] | None = None) -> None:
        """Append every frame of ``ds`` (which must carry the same kinds of labels each time).

        ``info`` maps names to per-frame values ``(len(ds),)`` (strings, integers or floats),
        stored under ``frame_info/<name>``; every append must give the same names.
        """
        info = dict(info or {})
        if self._frames and set(self._kinds) != set(self._kinds_of(ds)):
            raise ValueError(
                f"{self.path}: appended frames carry {sorted(self._kinds_of(ds))} but the file has "
                f"{sorted(self._kinds)}; every append must carry the same labels"
            )
        if self._frames and set(info) != set(self._info):
            raise ValueError(
                f"{self.path}: appended frame_info has {sorted(info)} but the file has "
                f"{sorted(self._info)}; every append must give the same names"
            )
        columns = {name: _info_column(name, values, len(ds)) for name, values in info.items()}
        self._kinds = self._kinds_of(ds)
        self._info = list(info)
        for name, column in columns.items():
            self._append(f"{INFO}/{name}", column, ())
        arrays = {
            "numbers": ds.numbers,
            "positions": ds.positions,
            "forces": ds.forces,
            "charges": ds.charges,
            "energy": ds.energy,
            "stress": ds.stress,
            "cell": ds.cell,
            "pbc": ds.pbc,
        }
        for label in ("energy", "forces", "stress"):
            if getattr(ds, label) is not None:
                arrays[f"{label}_mask"] = ds.label_mask(label)
        for name, value in arrays.items():
            if value is not None:
                tail = _PER_ATOM.get(name, _PER_FRAME.get(name))
                self._append(name, value, tail)
        offsets = self._file["offsets"]
        offsets.resize(self._frames + len(ds) + 1, axis=0)
        offsets[self._frames + 1 :] = ds.offsets[1:] + self._atoms
        self._frames += len(ds)
        self._atoms += len(ds.numbers)

    @staticmethod
    def _kinds_of(ds: AtomsDataset) -> list[str]:
        return [
            k
            for k in ("energy", "forces", "stress", "charges", "cell")
            if getattr(ds, k) is not None
        ]

    def close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if self._frames == 0:
            self._ctx.__exit__(ValueError, ValueError("no frames"), None)
            raise ValueError(f"{self.path}: no frames were appended; nothing written")
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> HDF5Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _info_column(name: str, values: Sequence, n_frames: int) -> np.ndarray:
    """One ``frame_info`` column as an array HDF5 stores: UTF-8 strings, int64 or float64."""
    if not name or "/" in name:
        raise ValueError(f"frame_info name {name!r} must be non-empty and without '/'")
    array = np.asarray(values)
    if array.shape != (n_frames,):
        raise ValueError(
            f"frame_info {name!r} has shape {array.shape}; expected one value per frame "
            f"({n_frames},)"
        )
    if array.dtype.kind in "US":
        return array.astype(object).astype(h5py.string_dtype("utf-8"))
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        return array.astype(np.float64)
    raise ValueError(f"frame_info {name!r}: values must be strings or numbers, got {array.dtype}")


def write_hdf5(
    path: str | os.PathLike,
    ds: AtomsDataset,
    *,
    compression: str | None = "gzip",
    info: Mapping[str, Sequence] | None = None,
) -> None:
    """Write ``ds`` (and per-frame ``info``, see :meth:`HDF5Writer.append`) to ``path``
    atomically."""
    with HDF5Writer(path, compression=compression) as writer:
        writer.append(ds, info)


def read_frame_info(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The ``frame_info`` columns of a file, each ``(F,)``: strings as ``str`` arrays, numbers
    as int64 or float64; ``{}`` when the file has none."""
    with _open(path) as f:
        try:
            if INFO not in f:
                return {}
            group = f[INFO]
            out = {}
            for name in group:
                dset = group[name]
                if h5py.check_string_dtype(dset.dtype) is not None:
                    out[name] = dset.asstr()[()].astype(str)
                else:
                    out[name] = dset[()]
            return out
        except Exception as err:  # h5py raises many types on a corrupt file
            raise _unreadable(path, err) from err


def _convert(f: h5py.File, arrays: dict, path) -> dict:
    units = {}
    for key, default in (("energy_unit", "eV"), ("length_unit", "Ang")):
        value = f.attrs.get(key, default)
        units[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if (units["energy_unit"], units["length_unit"]) == ("eV", "Ang"):
        return arrays
    pos, e, frc, st, cell = to_native_units(
        arrays["positions"],
        arrays.get("energy"),
        arrays.get("forces"),
        units["energy_unit"],
        units["length_unit"],
        stress=arrays.get("stress"),
        cell=arrays.get("cell"),
        source=path,
    )
    return {**arrays, "positions": pos, "energy": e, "forces": frc, "stress": st, "cell": cell}


def _keys(f: h5py.File, path) -> list[str]:
    try:
        return [k for k in f if k in _PER_ATOM or k in _PER_FRAME]
    except Exception as err:  # a corrupt group index
        raise _unreadable(path, err) from err


def read_hdf5(path: str | os.PathLike) -> AtomsDataset:
    """Read a whole HDF5 file into memory as an :class:`AtomsDataset` in eV and Å."""
    with _open(path) as f:
        arrays = _read(f, path, ["offsets", *_keys(f, path)])
        try:
            arrays = _convert(f, arrays, path)
        except DataError:
            raise
        except Exception as err:  # a corrupt attribute, or arrays that are not numbers
            raise _unreadable(path, err) from err
    return AtomsDataset(**arrays, source=str(path))


class HDF5Dataset(torch.utils.data.Dataset):
    """Frames of an HDF5 file read on demand (for sets larger than memory).

    ``dataset[k]`` returns an :class:`AtomsSample` like :class:`AtomsDataset`; each frame is
    validated as it is read. Safe with DataLoader workers: the file is opened in each process.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        with _open(self.path) as f:
            self.keys = _keys(f, self.path)
            offsets = _read(f, self.path, ["offsets"])["offsets"]
            shape = f["numbers"].shape  # a Dataset (checked by _open)
            n_atoms = shape[0] if len(shape) == 1 else -1
            self.offsets = _check_offsets(offsets, n_atoms, self.path)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _handle(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = _open(self.path)
            self._pid = os.getpid()
        return self._file

    def frame(self, k: int) -> AtomsDataset:
        """Frame ``k`` as a one-frame :class:`AtomsDataset`."""
        if not 0 <= k < len(self):
            raise IndexError(f"frame {k} out of range for {self.path} with {len(self)} frames")
        f = self._handle()
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        arrays = {}
        for key in self.keys:
            rows = slice(a, b) if key in _PER_ATOM else slice(k, k + 1)
            arrays.update(_read(f, self.path, [key], rows))
        try:
            arrays = _convert(f, arrays, self.path)
        except DataError:
            raise
        except Exception as err:  # a corrupt attribute, or arrays that are not numbers
            raise _unreadable(self.path, err) from err
        return AtomsDataset(**arrays, offsets=np.array([0, b - a]), source=f"{self.path} frame {k}")

    def __getitem__(self, k: int) -> AtomsSample:
        return self.frame(int(k))[0]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state
