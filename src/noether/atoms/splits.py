"""Train/validation/test splits saved as ``idx_train``, ``idx_val``, ``idx_test`` in an npz file.

The layout is TorchMD-NET's ``--splits`` file, so splits move between the two codes unchanged.
"""

from __future__ import annotations

import os

import numpy as np

from noether.core.errors import DataError
from noether.core.io import atomic_path

__all__ = ["SPLIT_KEYS", "load_splits", "make_splits", "save_splits"]

SPLIT_KEYS = ("idx_train", "idx_val", "idx_test")


def _count(size: int | float | None, n: int, name: str) -> int | None:
    if size is None:
        return None
    if isinstance(size, float):
        if not 0.0 <= size <= 1.0:
            raise ValueError(f"{name} as a float is a fraction in [0, 1], got {size}")
        return round(size * n)
    if int(size) < 0:
        raise ValueError(f"{name} must be non-negative, got {size}")
    return int(size)


def make_splits(
    n_frames: int,
    train: int | float | None = 0.8,
    val: int | float | None = 0.1,
    test: int | float | None = None,
    *,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Random disjoint splits of ``range(n_frames)``.

    Each size is a count (int) or a fraction of ``n_frames`` (float); one size may be None
    and then takes the remaining frames. Deterministic in ``seed``.
    """
    sizes = [_count(s, n_frames, k) for s, k in zip((train, val, test), SPLIT_KEYS)]
    if sizes.count(None) > 1:
        raise ValueError("at most one of train, val and test may be None (the remainder)")
    given = sum(s for s in sizes if s is not None)
    if given > n_frames or any(s is not None and s < 0 for s in sizes):
        raise ValueError(
            f"split sizes {dict(zip(SPLIT_KEYS, sizes))} need {given} frames but the dataset "
            f"has {n_frames}"
        )
    if None in sizes:
        sizes[sizes.index(None)] = n_frames - given
    perm = np.random.default_rng(seed).permutation(n_frames)
    bounds = np.cumsum([0, *sizes])
    return {k: np.sort(perm[a:b]) for k, a, b in zip(SPLIT_KEYS, bounds[:-1], bounds[1:])}


def save_splits(path: str | os.PathLike, splits: dict[str, np.ndarray]) -> None:
    """Write ``splits`` (keys ``idx_train``, ``idx_val``, ``idx_test``) to an npz, atomically."""
    missing = [k for k in SPLIT_KEYS if k not in splits]
    if missing:
        raise ValueError(f"splits miss {missing}; expected keys {SPLIT_KEYS}")
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **{k: np.asarray(splits[k], dtype=np.int64) for k in SPLIT_KEYS})


def load_splits(path: str | os.PathLike, n_frames: int | None = None) -> dict[str, np.ndarray]:
    """Read a splits npz; check the keys, that indices lie in ``[0, n_frames)`` and are disjoint.

    Anything wrong raises a :class:`~noether.core.errors.DataError` naming the file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            missing = [k for k in SPLIT_KEYS if k not in files]
            if missing:
                raise DataError(
                    f"{path}: splits file misses {missing}; it has {files}",
                    file=path,
                    field=missing[0],
                    accepted=", ".join(SPLIT_KEYS),
                )
            raw = {k: data[k] for k in SPLIT_KEYS}
    except DataError:
        raise
    except FileNotFoundError:
        raise
    except Exception as err:  # zipfile, zlib and numpy's header parser raise many types
        raise DataError(
            f"{path}: not a readable npz splits file ({type(err).__name__}: {err})", file=path
        ) from err
    splits = {}
    for k, idx in raw.items():
        if idx.dtype.kind not in "iu" or idx.ndim > 1:
            raise DataError(
                f"{path}: {k} is {idx.dtype} of shape {idx.shape}; accepted: a 1-D array of "
                f"integer frame indices",
                file=path,
                field=k,
            )
        splits[k] = idx.astype(np.int64).reshape(-1)
    if n_frames is not None:
        for k, idx in splits.items():
            if idx.size and (idx.min() < 0 or idx.max() >= n_frames):
                raise DataError(
                    f"{path}: {k} holds index {idx.max() if idx.max() >= n_frames else idx.min()} "
                    f"but the dataset has {n_frames} frames (valid: 0..{n_frames - 1})",
                    file=path,
                    field=k,
                    accepted=f"0..{n_frames - 1}",
                )
    seen = np.concatenate(list(splits.values()))
    if np.unique(seen).size != seen.size:
        raise DataError(
            f"{path}: the splits overlap; a frame may be in only one of {SPLIT_KEYS}",
            file=path,
        )
    return splits
