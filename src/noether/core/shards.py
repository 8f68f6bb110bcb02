"""Sharded column stores in HDF5: one writer and one lazy reader for every sharded dataset.

A store is a folder of shard files (``shard-00000.h5``, ``shard-00001.h5``, ...). Layout of
one shard (format version 1):

- root attribute ``n_samples``: the rows it holds; other attributes are free (a ``dict`` is
  stored as a JSON string and decoded by :func:`read_attrs`);
- per column ``name``: either a dataset ``(n_samples, ...)`` (fixed-size rows) or, for rows whose
  first axis varies (atoms of different molecules), the rows back to back in ``name`` and their
  offsets in ``name.ptr`` ``(n_samples + 1,)`` int64;
- optional per-shard arrays (a dataset's constant context, say), named in the root attribute
  ``static`` (a JSON list); they are not columns.

Every shard is written to a temporary file beside its final name and moved onto it when complete
(:func:`noether.core.io.atomic_path`), so a crash leaves whole shards or none; a temporary name
starts with ``.`` and never matches ``shard-*.h5`` or ``*.h5`` globs of a reader.

:class:`ShardedColumns` keeps only shard lengths in memory. File handles are opened on first
access in each process and never inherited across ``fork`` (an HDF5 handle shared between
processes corrupts reads), so data-loader workers each open their own; pickling drops them.

Users: :mod:`noether.train.shards` (generic samples for training) and
:mod:`noether.sims.rigid.shards` (rigid-body scenes, with ``static`` context). Shards written
before this module (``train/shards.py``'s: the same layout; ``sims/shards.py``'s: the row count
in ``n_scenes`` and no ``static`` attribute) read unchanged: see ``rows_attrs`` and ``static``
of :class:`ShardedColumns`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from noether.core.errors import DataError
from noether.core.io import atomic_path

__all__ = [
    "PTR",
    "ROWS",
    "ShardWriter",
    "ShardedColumns",
    "read_attrs",
    "shard_name",
    "write_shards",
]

PTR = ".ptr"
ROWS = "n_samples"
STATIC = "static"
_CHUNK_BYTES = 1 << 16


def shard_name(index: int, prefix: str = "shard") -> str:
    """``shard-00000.h5`` for index 0."""
    return f"{prefix}-{index:05d}.h5"


def _write_attrs(file: h5py.File, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        file.attrs[key] = json.dumps(value) if isinstance(value, dict | list) else value


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """Root attributes of a shard: JSON strings of dicts and lists decoded, numpy scalars as
    Python numbers. Raises ``ValueError`` naming the file if it is not readable HDF5."""
    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
    except Exception as error:  # OSError, or KeyError/RuntimeError from a damaged header
        raise DataError(
            f"{path}: not a readable noether HDF5 shard ({type(error).__name__}: {error}); "
            f"regenerate it",
            file=path,
        ) from error
    for key, value in attrs.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                attrs[key] = json.loads(value)
            except json.JSONDecodeError:
                pass  # a plain string that happens to start with a bracket
        elif isinstance(value, np.generic):
            attrs[key] = value.item()
    return attrs


class ShardWriter(AbstractContextManager):
    """Writes one shard of ``n_rows`` fixed-size rows block by block, atomically.

    Args:
        path: final path of the shard; nothing appears there before :meth:`close`.
        n_rows: rows it will hold.
        columns: ``name -> (row shape, dtype)``; datasets are chunked in about 64 kB of rows.
        static: per-shard arrays (stored as given, listed in the ``static`` attribute).
        attrs: attributes (``n_samples`` is set here).

    Use as a context manager (an exception aborts) or call :meth:`close` / :meth:`abort`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_rows: int,
        columns: Mapping[str, tuple[tuple[int, ...], Any]],
        *,
        static: Mapping[str, np.ndarray] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.n_rows, self.filled = n_rows, 0
        self.columns = dict(columns)
        self._atomic = atomic_path(self.path)
        self.tmp = self._atomic.__enter__()
        try:
            self.file = h5py.File(self.tmp, "w")
            for name, (shape, dtype) in self.columns.items():
                kind = np.dtype(dtype)
                row_bytes = kind.itemsize * int(np.prod(shape, dtype=np.int64))
                rows = int(np.clip(_CHUNK_BYTES // max(row_bytes, 1), 1, max(n_rows, 1)))
                self.file.create_dataset(
                    name,
                    shape=(n_rows, *shape),
                    dtype=kind,
                    chunks=(rows, *shape) if n_rows else None,
                )
            static = dict(static or {})
            for name, value in static.items():
                self.file.create_dataset(name, data=np.asarray(value))
            _write_attrs(self.file, {**(attrs or {}), ROWS: n_rows})
            if static:
                _write_attrs(self.file, {STATIC: sorted(static)})
        except BaseException as error:
            self._discard(error)
            raise

    def write(self, block: Mapping[str, np.ndarray]) -> None:
        """Append rows: every column's array has the block's rows on axis 0."""
        k = len(next(iter(block.values())))
        if self.filled + k > self.n_rows:
            raise ValueError(f"{self.path.name} holds {self.n_rows} rows; got {self.filled + k}")
        for name in self.columns:
            self.file[name][self.filled : self.filled + k] = block[name]
        self.filled += k

    def close(self) -> Path:
        """Check that every row is written, then move the shard onto its final path."""
        if self.filled != self.n_rows:
            error = ValueError(f"{self.path.name}: wrote {self.filled} of {self.n_rows} rows")
            self._discard(error)
            raise error
        self.file.close()
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the final path is left as it was."""
        self._discard(RuntimeError("aborted"))

    def _discard(self, error: BaseException) -> None:
        if getattr(self, "file", None) is not None and self.file.id.valid:
            self.file.close()
        self._atomic.__exit__(type(error), error, None)

    def __exit__(self, kind, error, traceback) -> None:
        if error is None:
            self.close()
        else:
            self._discard(error)


def write_shards(
    directory: str | os.PathLike,
    columns: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    samples_per_shard: int,
    *,
    prefix: str = "shard",
    attrs: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write columns of samples into shards of at most ``samples_per_shard`` samples.

    Args:
        directory: created if missing.
        columns: ``name -> array (n, ...)`` for fixed-size samples, or ``name -> list`` of ``n``
            arrays whose first axis may differ (stored ragged, with ``name.ptr``).
        samples_per_shard: samples per file (the last file may hold fewer).
        attrs: attributes of every shard.

    Returns:
        The shard paths, in sample order. Each file is written atomically.
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
        path = directory / shard_name(k, prefix)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as file:
            _write_attrs(file, {**(attrs or {}), ROWS: hi - lo})
            for name, values in columns.items():
                if isinstance(values, np.ndarray):
                    file.create_dataset(name, data=values[lo:hi])
                else:
                    chunk = [np.asarray(v) for v in values[lo:hi]]
                    ptr = np.cumsum([0] + [len(v) for v in chunk], dtype=np.int64)
                    file.create_dataset(name, data=np.concatenate(chunk, axis=0))
                    file.create_dataset(name + PTR, data=ptr)
        paths.append(path)
    return paths


def _resolve(paths: str | os.PathLike | Sequence[str | os.PathLike], pattern: str) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        root = Path(paths)
        if root.is_dir():
            found = sorted(p for p in root.glob(pattern) if not p.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"no HDF5 shards ({pattern}) in folder {str(root)!r}")
            return found
        paths = [root]
    out = [Path(p) for p in paths]
    for p in out:
        if not p.is_file():
            raise FileNotFoundError(f"HDF5 shard {str(p)!r} does not exist")
    if not out:
        raise FileNotFoundError("no HDF5 shards given")
    return out


def _unreadable(path: Path, error: BaseException, column: str | None = None) -> DataError:
    what = f"column {column!r} of " if column else ""
    return DataError(
        f"{path}: {what}the HDF5 shard does not read back ({type(error).__name__}: {error}); "
        f"the file is damaged, regenerate it",
        file=path,
        field=column,
    )


def _layout(path: Path, static: set[str], rows: int) -> tuple[dict[str, bool], dict[str, str]]:
    """``{column: ragged}`` of a shard, and what is wrong with the columns whose rows disagree
    with its row count (a fixed column needs ``rows`` rows, a ragged one a ``name.ptr`` of
    ``rows + 1`` integers): ``{column: message}``, raised only for the columns that are read."""
    try:
        with h5py.File(path, "r") as file:
            shapes = {k: file[k].shape for k in file if isinstance(file[k], h5py.Dataset)}
            kinds = {k: file[k].dtype.kind for k in shapes}
    except Exception as error:  # a damaged object header or group index
        raise _unreadable(path, error) from error
    layout, problems = {}, {}
    for name in sorted(shapes):
        if name.endswith(PTR) or name in static:
            continue
        ragged = name + PTR in shapes
        layout[name] = ragged
        ptr = name + PTR
        if ragged and (shapes[ptr] != (rows + 1,) or kinds[ptr] not in "iu"):
            problems[name] = (
                f"{path}: {ptr} has shape {shapes[ptr]} (kind {kinds[ptr]!r}); expected "
                f"({rows + 1},) integers for {rows} rows"
            )
        elif not ragged and (not shapes[name] or shapes[name][0] != rows):
            problems[name] = (
                f"{path}: column {name!r} has shape {shapes[name]}; expected {rows} rows "
                f"(the shard's row count)"
            )
    return layout, problems


class ShardedColumns:
    """Rows of a sharded column store, read lazily: ``store.read(i)`` is ``{column: array}``.

    Args:
        paths: a folder of shards (files matching ``pattern``, sorted by name) or a list of files.
        columns: the columns to read; every column of the first shard if None.
        static: names of per-shard arrays to read with :meth:`static`; the shard's ``static``
            attribute if None (shards that predate it pass the names).
        pattern: the shard files of a folder.
        rows_attrs: attributes that may hold a shard's row count, tried in order (``n_samples``
            first; a format with an older name adds it).

    Raises ``ValueError`` naming the file if a shard is not readable, has no row count, or
    differs from the first shard in its columns.
    """

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        columns: Sequence[str] | None = None,
        *,
        static: Sequence[str] | None = None,
        pattern: str = "*.h5",
        rows_attrs: Sequence[str] = (ROWS,),
    ) -> None:
        self.paths = _resolve(paths, pattern)
        self.attrs: list[dict[str, Any]] = []
        sizes, layout, problems = [], None, []
        for path in self.paths:
            attrs = read_attrs(path)
            rows = next((attrs[a] for a in rows_attrs if a in attrs), None)
            if rows is None:
                raise DataError(
                    f"{path}: not a noether HDF5 shard (no row count: attribute "
                    f"{' or '.join(rows_attrs)} is missing)",
                    file=path,
                    field=rows_attrs[0],
                )
            if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
                raise DataError(
                    f"{path}: row count {rows!r} is not an integer >= 0; regenerate the shard",
                    file=path,
                    field=rows_attrs[0],
                    value=rows,
                )
            shard_static = set(attrs.get(STATIC, ()) if static is None else static)
            this, shard_problems = _layout(path, shard_static, rows)
            problems.append((path, shard_problems))
            if layout is None:
                layout = this
            elif this != layout:
                raise DataError(
                    f"{path}: columns {this} differ from the first shard's {layout}", file=path
                )
            sizes.append(rows)
            self.attrs.append(attrs)
        assert layout is not None
        if columns is None:
            columns = list(layout)
        missing = [c for c in columns if c not in layout]
        if missing:
            raise DataError(
                f"{self.paths[0]}: columns {missing} are not in the shards; available: "
                f"{list(layout)}",
                file=self.paths[0],
                field=missing[0],
            )
        for path, shard_problems in problems:
            for column in columns:
                if column in shard_problems:
                    raise DataError(shard_problems[column], file=path, field=column)
        self.columns = list(columns)
        self.ragged = {c: layout[c] for c in self.columns}
        self.static_names = list(self.attrs[0].get(STATIC, ()) if static is None else static)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._files: dict[int, h5py.File] = {}
        self._datasets: dict[int, dict[str, h5py.Dataset]] = {}
        self._static: dict[int, dict[str, np.ndarray]] = {}
        self._pid: int | None = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """``(shard, row in shard)`` of row ``index`` (negative counts from the end)."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"sample {index} out of range for {n} samples")
        shard = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return shard, index - int(self.offsets[shard])

    def datasets(self, shard: int) -> dict[str, h5py.Dataset]:
        """The shard's column datasets (and ``name.ptr`` of ragged ones), opened in this process
        and looked up once (``file[name]`` costs more than a row read)."""
        if self._pid != os.getpid():  # first use in this process (a forked worker, say)
            self._files, self._datasets, self._static, self._pid = {}, {}, {}, os.getpid()
        if shard not in self._datasets:
            path = self.paths[shard]
            try:
                file = self._files[shard] = h5py.File(path, "r")
                names = [*self.columns, *(c + PTR for c in self.columns if self.ragged[c])]
                self._datasets[shard] = {name: file[name] for name in names}
            except Exception as error:  # the file changed or is damaged since it was listed
                raise _unreadable(path, error) from error
        return self._datasets[shard]

    def static(self, shard: int) -> dict[str, np.ndarray]:
        """The shard's per-shard arrays (read once per process)."""
        self.datasets(shard)  # opens the file in this process
        if shard not in self._static:
            file = self._files[shard]
            self._static[shard] = {name: file[name][()] for name in self.static_names}
        return self._static[shard]

    def read(self, index: int) -> dict[str, np.ndarray]:
        """Row ``index`` of every column, as numpy arrays."""
        shard, local = self.locate(index)
        datasets = self.datasets(shard)
        out = {}
        try:
            for column in self.columns:
                if self.ragged[column]:
                    lo, hi = (int(v) for v in datasets[column + PTR][local : local + 2])
                    if not 0 <= lo <= hi <= len(datasets[column]):
                        raise DataError(
                            f"{self.paths[shard]}: {column}{PTR} gives row {local} the range "
                            f"{lo}:{hi} of {len(datasets[column])}; the shard is damaged",
                            file=self.paths[shard],
                            field=column + PTR,
                            frame=local,
                        )
                    out[column] = np.asarray(datasets[column][lo:hi])
                else:
                    out[column] = np.asarray(datasets[column][local])
        except DataError:
            raise
        except Exception as error:  # h5py: OSError, KeyError, RuntimeError... on damaged data
            raise _unreadable(self.paths[shard], error, column) from error
        return out

    def open_shards(self) -> int:
        """Number of shard files this process holds open."""
        return len(self._files) if self._pid == os.getpid() else 0

    def close(self) -> None:
        if self._pid == os.getpid():
            for file in self._files.values():
                file.close()
        self._files, self._datasets, self._static = {}, {}, {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_files"], state["_datasets"], state["_static"], state["_pid"] = {}, {}, {}, None
        return state
