"""The n-body dataset on disk: splits, transformed test sets, atomic writing and loading.

A dataset is a directory with one ``.npz`` per split and ``meta.json``::

    train.npz val.npz test.npz           systems with config.n_planets planets
    test_rotated.npz                     the test systems rotated about the origin, re-simulated
    test_translated.npz                  the test systems translated, re-simulated
    test_more_bodies.npz                 fresh systems with more planets
    meta.json                            config, seed, sizes, rejection counts, equivariance check

Every split holds the arrays of :data:`ARRAYS` (float64; ``n`` systems, ``b`` bodies); the
transformed sets also hold the transformation (``rotation`` or ``translation``) that maps each
test system onto its copy.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noether.core.progress import Progress
from noether.sims.nbody.gravity import momentum
from noether.sims.nbody.simulator import (
    NBodyConfig,
    Simulation,
    accept,
    random_rotations,
    sample_initial_conditions,
)
from noether.sims.nbody.simulator import simulate as simulate_systems

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test", "test_rotated", "test_translated", "test_more_bodies")
ARRAYS = {
    "masses": "(n, b) body masses",
    "x_initial": "(n, b, 3) positions at t = 0",
    "v_initial": "(n, b, 3) velocities at t = 0",
    "x_final": "(n, b, 3) positions at t = time (the target)",
    "v_final": "(n, b, 3) velocities at t = time",
    "n_steps": "(n,) integrator steps used (int64)",
    "energy_error": "(n,) relative energy drift |E(T) - E(0)| / |E(0)|",
}
# Independent random streams, one per purpose.
_STREAMS = {"base": 0, "test_more_bodies": 1, "rotation": 2, "translation": 3}
_CHUNK = 16384


@dataclass(frozen=True)
class NBodySizes:
    """Systems per split; ``test_rotated`` and ``test_translated`` have ``test`` systems."""

    train: int = 10_000
    val: int = 1_000
    test: int = 1_000
    more_bodies: int = 1_000
    more_planets: int = 5

    def __post_init__(self) -> None:
        for name in ("train", "val", "test", "more_bodies", "more_planets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream]]))


def _pack(m: np.ndarray, x: np.ndarray, v: np.ndarray, sim: Simulation) -> dict[str, np.ndarray]:
    return {
        "masses": m,
        "x_initial": x,
        "v_initial": v,
        "x_final": sim.x_final,
        "v_final": sim.v_final,
        "n_steps": sim.n_steps,
        "energy_error": sim.energy_error,
    }


def _candidates(missing: int) -> int:
    return min(_CHUNK, missing + missing // 50 + 8)  # rejections are rare (about 0.1 %)


def generate_systems(
    n_systems: int, config: NBodyConfig, rng: np.random.Generator, progress: Progress | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """Sample and simulate until ``n_systems`` are accepted; returns the arrays and the rejections.

    Candidates are drawn in chunks of at most 16384 (``missing + 2 % + 8``); the result depends
    only on the seed, the number of systems and the config. ``progress`` counts candidates.
    """
    parts: list[dict[str, np.ndarray]] = []
    have, rejected = 0, 0
    while have < n_systems:
        chunk = _candidates(n_systems - have)
        if progress is not None and have > 0:
            progress.total += chunk
            progress.refresh()
        m, x, v = sample_initial_conditions(rng, chunk, config)
        sim = simulate_systems(
            m, x, v, config, on_done=None if progress is None else progress.update
        )
        ok = accept(sim, x, config)
        rejected += chunk - int(ok.sum())
        keep = np.flatnonzero(ok)[: n_systems - have]
        arrays = _pack(m, x, v, sim)
        parts.append({k: a[keep] for k, a in arrays.items()})
        have += len(keep)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, rejected


def transform_splits(
    split: dict[str, np.ndarray],
    config: NBodyConfig,
    rotations: list[np.ndarray],
    translations: list[np.ndarray],
    progress: Progress | None = None,
) -> list[tuple[dict[str, np.ndarray], float]]:
    """Copies of ``split`` with every initial state moved by ``x -> R x + t``, ``v -> R v`` and
    re-simulated with the same step counts (all copies in one integration).

    Returns, per copy, its arrays and the largest deviation of its simulated final positions from
    the transformed original targets: the simulator's own equivariance error.
    """
    n = len(split["masses"])
    k = len(rotations)
    rot, shift = np.concatenate(rotations), np.concatenate(translations)
    m = np.tile(split["masses"], (k, 1))
    x = np.einsum("sij,sbj->sbi", rot, np.tile(split["x_initial"], (k, 1, 1))) + shift[:, None, :]
    v = np.einsum("sij,sbj->sbi", rot, np.tile(split["v_initial"], (k, 1, 1)))
    on_done = None if progress is None else progress.update
    sim = simulate_systems(m, x, v, config, n_steps=np.tile(split["n_steps"], k), on_done=on_done)
    expected = np.einsum("sij,sbj->sbi", rot, np.tile(split["x_final"], (k, 1, 1))) + shift[:, None]
    arrays = _pack(m, x, v, sim)
    out = []
    for c in range(k):
        part = slice(c * n, (c + 1) * n)
        error = float(np.abs(sim.x_final[part] - expected[part]).max())
        out.append(({name: a[part] for name, a in arrays.items()}, error))
    return out


def momentum_error(split: dict[str, np.ndarray]) -> float:
    """Largest change of total momentum, relative to ``sum_i m_i |v_i|`` at the start."""
    m, v0, v1 = split["masses"], split["v_initial"], split["v_final"]
    drift = np.linalg.norm(momentum(v1, m) - momentum(v0, m), axis=-1)
    scale = np.einsum("si,si->s", m, np.linalg.norm(v0, axis=-1))
    return float((drift / scale).max())


def generate_dataset(
    config: NBodyConfig,
    sizes: NBodySizes,
    seed: int,
    *,
    test_shift: float = 20.0,
    progress: bool = True,
) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """All splits of an n-body dataset and its metadata (see the module docstring).

    Train, validation and test systems come from one stream and are integrated together (the cost
    of the few systems with close encounters, which need tiny steps, is paid once); the
    transformed test sets are the test systems under a Haar rotation about the origin, and under
    a translation by ``test_shift`` in a random direction.
    """
    if not np.isfinite(test_shift) or test_shift < 0:
        raise ValueError(f"test_shift must be finite and >= 0, got {test_shift!r}")
    if sizes.more_planets <= config.n_planets:
        raise ValueError(
            f"more_planets must exceed n_planets (test_more_bodies tests generalisation to more "
            f"bodies than in training), got {sizes.more_planets} and {config.n_planets}"
        )
    more = NBodyConfig(**{**config.to_dict(), "n_planets": sizes.more_planets})
    n_base = sizes.train + sizes.val + sizes.test
    total = _candidates(n_base) + _candidates(sizes.more_bodies) + 2 * sizes.test
    start = time.perf_counter()
    with Progress(total, desc="n-body systems", unit="sys", enabled=progress) as bar:
        base, rejected_base = generate_systems(n_base, config, _rng(seed, "base"), bar)
        bounds = np.cumsum([0, sizes.train, sizes.val, sizes.test])
        splits = {
            name: {k: a[bounds[i] : bounds[i + 1]] for k, a in base.items()}
            for i, name in enumerate(("train", "val", "test"))
        }
        splits["test_more_bodies"], rejected_more = generate_systems(
            sizes.more_bodies, more, _rng(seed, "test_more_bodies"), bar
        )
        n = sizes.test
        rotation = random_rotations(_rng(seed, "rotation"), n)
        direction = _rng(seed, "translation").normal(size=(n, 3))
        translation = test_shift * direction / np.linalg.norm(direction, axis=1, keepdims=True)
        identity = np.broadcast_to(np.eye(3), (n, 3, 3))
        (rotated, rot_error), (shifted, shift_error) = transform_splits(
            splits["test"], config, [rotation, identity], [np.zeros((n, 3)), translation], bar
        )
        splits["test_rotated"] = {**rotated, "rotation": rotation}
        splits["test_translated"] = {**shifted, "translation": translation}
    seconds = time.perf_counter() - start
    n_systems = n_base + sizes.more_bodies + 2 * n
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": "nbody",
        "seed": seed,
        "config": config.to_dict(),
        "more_bodies_planets": sizes.more_planets,
        "test_shift": test_shift,
        "sizes": {k: len(v["masses"]) for k, v in splits.items()},
        "bodies": {k: int(v["masses"].shape[1]) for k, v in splits.items()},
        "rejected": {"train_val_test": rejected_base, "test_more_bodies": rejected_more},
        "equivariance_error": {"rotation": rot_error, "translation": shift_error},
        "max_energy_error": {k: float(v["energy_error"].max()) for k, v in splits.items()},
        "max_momentum_error": {k: momentum_error(v) for k, v in splits.items()},
        "units": "gravitational N-body units, G = 1",
        "arrays": ARRAYS,
        "seconds": seconds,
        "systems_per_second": n_systems / seconds,
    }
    return splits, meta


def check_writable(out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """``out_dir`` as a path; raises ``FileExistsError`` if it holds files and not ``overwrite``
    (called before generating, so that a long run is not wasted on a refusal at the end)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise FileExistsError(
            f"{out} exists and is not empty; pass overwrite=True (--overwrite) to replace it"
        )
    return out


def write_dataset(
    out_dir: str | os.PathLike,
    splits: dict[str, dict[str, np.ndarray]],
    meta: dict,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the splits and ``meta.json`` into ``out_dir`` atomically: everything goes to a temporary
    sibling directory that is renamed into place, so an interrupted run leaves no partial dataset."""
    out = check_writable(out_dir, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, arrays in splits.items():
            np.savez(tmp / f"{name}.npz", **arrays)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_split(data_dir: str | os.PathLike, split: str) -> dict[str, np.ndarray]:
    """Arrays of one split of a dataset written by :func:`write_dataset` (fully loaded)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    path = Path(data_dir) / f"{split}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; generate the dataset with `noether data nbody`")
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ValueError(f"{path} is not a readable npz file ({error}); regenerate it") from error
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"{path} lacks the arrays {missing}; it is not an n-body split")
    return arrays


def load_meta(data_dir: str | os.PathLike) -> dict:
    path = Path(data_dir) / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; generate the dataset with `noether data nbody`")
    return json.loads(path.read_text())
