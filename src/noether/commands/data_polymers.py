"""`noether data polymers`: GFN2-xTB MD of capped polymer oligomers, with family labels.

Each family of :data:`noether.atoms.polymers.POLYMERS` is built as a capped oligomer of each
length in ``--lengths`` (repeat units), embedded in 3D by RDKit, and sampled by GFN2-xTB Langevin
MD (tblite) at each of ``--temperatures``; every saved frame carries xTB's energy (eV) and forces
(eV/Å) of its geometry. One job per (family, length) runs in its own process with one thread and
writes ``<out>/parts/<family>_n<units>.h5`` atomically (a rerun reuses finished parts, so a killed
run resumes); the parts are then merged into ``<out>/polymers.h5`` with the per-frame
``frame_info`` columns ``family``, ``n_units`` and ``temperature`` (K), plus ``summary.json`` and
``summary.png``. Deterministic in ``--seed``: a part depends only on the seed, its family and
length and the sampling settings, not on ``--workers`` or on the other parts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from noether.atoms.formats import HDF5Writer, read_frame_info, read_hdf5, write_hdf5
from noether.atoms.plots import plot_dataset_summary
from noether.atoms.polymers import (
    DEFAULT_FAMILIES,
    POLYMERS,
    build_oligomer,
    oligomer_atom_count,
    oligomer_smiles,
)
from noether.atoms.xtb import XTBSampling, frame_temperatures, sample_molecule
from noether.commands.data_molecules import XTB_HELP, _molecule_seed
from noether.commands.options import add_common_options, add_options, config_from_args, fail
from noether.core.io import atomic_path
from noether.core.progress import Progress


@dataclass(frozen=True)
class PolymersJob:
    """Which oligomers ``noether data polymers`` samples, and where.

    Attributes:
        families: polymer families (of noether.atoms.polymers.POLYMERS).
        lengths: oligomer lengths in repeat units.
        frames: frames per oligomer, one value per length or one for all.
        cap: end groups.
        out: output folder.
        seed: random seed (each part's seed derives from it, its family and length).
        workers: parallel processes.
    """

    families: tuple[str, ...] = DEFAULT_FAMILIES
    lengths: tuple[int, ...] = (2,)
    frames: tuple[int, ...] = (180,)
    cap: Literal["H", "CH3"] = "H"
    out: str = "data/polymers"
    seed: int = 0
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PolymersJob, choices={"families": tuple(POLYMERS)})
    add_options(
        parser,
        XTBSampling,
        exclude=("frames",),
        defaults={"temperatures": (300.0, 500.0, 700.0), "equilibration": 100},
        help=XTB_HELP,
    )
    add_common_options(parser)


def part_path(out: str | os.PathLike, family: str, units: int) -> Path:
    """Where the job of one family and length writes its frames."""
    return Path(out) / "parts" / f"{family}_n{units}.h5"


def _make_part(family: str, units: int, settings_dict: dict, cap: str, seed: int, out: str) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"
    start, cpu_start = time.perf_counter(), time.process_time()
    settings = XTBSampling(**settings_dict)
    name = f"{family}_n{units}"
    job_seed = _molecule_seed(seed, name)
    _, atoms = build_oligomer(family, units, cap=cap, seed=job_seed)
    ds = sample_molecule(atoms, settings, seed=job_seed)
    info = {
        "family": [family] * len(ds),
        "n_units": [units] * len(ds),
        "temperature": frame_temperatures(settings),
    }
    write_hdf5(part_path(out, family, units), ds, info=info)
    record = {
        "name": name,
        "family": family,
        "n_units": units,
        "smiles": oligomer_smiles(family, units, cap),
        "atoms": int(ds.n_atoms[0]),
        "frames": len(ds),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "settings": settings.as_dict(),
        "cap": cap,
        "seed": seed,
    }
    with atomic_path(part_path(out, family, units).with_suffix(".json"), ".json") as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    return record


def _finished(out: Path, family: str, units: int, settings: dict, cap: str, seed: int) -> dict:
    """The record of a finished part made with the same settings, else {}."""
    path = part_path(out, family, units)
    meta = path.with_suffix(".json")
    if not (path.is_file() and meta.is_file()):
        return {}
    record = json.loads(meta.read_text())
    return record if _difference(record, settings, cap, seed) is None else {}


def _difference(record: dict, settings: dict, cap: str, seed: int) -> str | None:
    """The first setting a part's record differs in, as ``name old -> new``; None if none."""
    saved = {**record.get("settings", {}), "cap": record.get("cap"), "seed": record.get("seed")}
    wanted = {**json.loads(json.dumps(settings)), "cap": cap, "seed": seed}
    for name, new in wanted.items():
        if saved.get(name) != new:
            return f"{name} {saved.get(name)} -> {new}"
    return None


def _check_settings(args, out: Path, jobs, settings: dict, cap: str, seed: int) -> list[Path]:
    """The parts of ``jobs`` already in ``out`` made with other settings. Without
    ``--overwrite`` the first is a command-line error (exit 2, nothing written)."""
    stale = []
    for family, units in jobs:
        meta = part_path(out, family, units).with_suffix(".json")
        if not meta.is_file():
            continue
        change = _difference(json.loads(meta.read_text()), settings[units], cap, seed)
        if change is None:
            continue
        if not args.overwrite:
            fail(
                args,
                f"{out} holds {family}_n{units} made with other settings ({change}); pass "
                f"--overwrite to start it again",
            )
        stale += [meta, meta.with_suffix(".h5")]
    return stale


def main(args: argparse.Namespace) -> int:
    job = config_from_args(args, PolymersJob)
    lengths, frames = list(job.lengths), list(job.frames)
    if len(frames) == 1:
        frames = frames * len(lengths)
    if len(frames) != len(lengths) or min(lengths) < 1:
        fail(
            args,
            f"--lengths {','.join(map(str, lengths))} must be >= 1 and --frames "
            f"{','.join(map(str, job.frames))} give one value per length or one for all",
        )
    settings = {
        units: config_from_args(args, XTBSampling, frames=n).as_dict()
        for units, n in zip(lengths, frames)
    }
    temperatures = settings[lengths[0]]["temperatures"]
    families = list(job.families)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # before tblite loads: no oversubscribed OpenMP threads
    out = Path(job.out)
    jobs = [(f, n) for f in families for n in lengths]
    for path in _check_settings(args, out, jobs, settings, job.cap, job.seed):
        path.unlink(missing_ok=True)
    (out / "parts").mkdir(parents=True, exist_ok=True)
    records = {}
    for f, n in jobs:
        record = _finished(out, f, n, settings[n], job.cap, job.seed)
        if record:
            records[(f, n)] = record
    todo = [part for part in jobs if part not in records]
    # Largest first, so the last part to finish is a small one.
    todo.sort(
        key=lambda part: (
            -oligomer_atom_count(part[0], part[1], job.cap) * settings[part[1]]["frames"]
        )
    )
    print(
        f"xTB ({settings[lengths[0]]['method']}) Langevin MD at {temperatures} K: "
        f"{len(families)} families x lengths {lengths} ({len(todo)} to run, {len(records)} "
        f"reused) -> {out}/, {job.workers} worker(s)"
    )
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max(job.workers, 1), mp_context=context) as pool,
        Progress(len(todo), desc="parts", unit="part", enabled=args.progress) as bar,
    ):
        futures = {
            pool.submit(_make_part, f, n, settings[n], job.cap, job.seed, str(out)): (f, n)
            for f, n in todo
        }
        for future in as_completed(futures):
            r = future.result()
            records[(r["family"], r["n_units"])] = r
            bar.write(
                f"  {r['name']}: {r['frames']} frames of {r['atoms']} atoms in "
                f"{r['seconds']:.0f} s ({r['cpu_seconds']:.0f} s CPU)"
            )
            bar.update()
    # polymers.h5 holds every finished part of the folder, so runs with other lengths or
    # families (e.g. longer chains of a few families) add to the same file.
    everything = finished_parts(out)
    merge_parts(out, everything)
    ordered = [
        json.loads(part_path(out, f, n).with_suffix(".json").read_text()) for f, n in everything
    ]
    summary = {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": sum(r["cpu_seconds"] for r in ordered),
        "families": {f: POLYMERS[f].label for f in dict.fromkeys(r["family"] for r in ordered)},
        "lengths": sorted({r["n_units"] for r in ordered}),
        "temperatures": list(temperatures),
        "cap": job.cap,
        "seed": job.seed,
        "parts": ordered,
    }
    with atomic_path(out / "summary.json", ".json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    _plot(out, everything)
    total = sum(r["frames"] for r in ordered)
    print(
        f"{total} frames in {summary['seconds']:.0f} s ({summary['cpu_seconds']:.0f} s CPU in "
        f"workers); wrote {out}/polymers.h5, summary.json and summary.png"
    )
    return 0


def finished_parts(out: str | os.PathLike) -> list[tuple[str, int]]:
    """``(family, units)`` of every finished part in ``<out>/parts``, by length, then in the order
    of :data:`POLYMERS`: adding longer chains later appends to the file, so the indices of the
    frames already there do not change."""
    found = []
    for meta in Path(out, "parts").glob("*.json"):
        if meta.with_suffix(".h5").is_file():
            record = json.loads(meta.read_text())
            found.append((record["family"], int(record["n_units"])))
    order = list(POLYMERS)
    return sorted(found, key=lambda job: (job[1], order.index(job[0])))


def merge_parts(out: str | os.PathLike, jobs: list[tuple[str, int]]) -> Path:
    """Concatenate the parts of ``jobs`` (in that order) into ``<out>/polymers.h5``, with their
    ``frame_info`` (family, n_units, temperature)."""
    path = Path(out) / "polymers.h5"
    with HDF5Writer(path) as writer:
        for family, units in jobs:
            part = part_path(out, family, units)
            writer.append(read_hdf5(part), read_frame_info(part))
    return path


def _plot(out: Path, jobs: list[tuple[str, int]]) -> None:
    sets = {f"{f}_n{n}": read_hdf5(part_path(out, f, n)) for f, n in jobs}
    plot_dataset_summary(sets, out / "summary.png")
