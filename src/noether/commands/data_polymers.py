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
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from noether.atoms.polymers import DEFAULT_FAMILIES, POLYMERS


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--families",
        default=",".join(DEFAULT_FAMILIES),
        help=f"comma-separated polymer families of {', '.join(POLYMERS)} (default: the first "
        f"{len(DEFAULT_FAMILIES)})",
    )
    parser.add_argument(
        "--lengths", default="2", help="oligomer lengths in repeat units (default 2)"
    )
    parser.add_argument(
        "--frames",
        default="180",
        help="frames per oligomer, one value per length or one for all (default 180)",
    )
    parser.add_argument(
        "--temperatures", default="300,500,700", help="MD temperatures in K (default 300,500,700)"
    )
    parser.add_argument("--cap", choices=("H", "CH3"), default="H", help="end groups")
    parser.add_argument("--timestep", type=float, default=0.5, help="MD timestep in fs")
    parser.add_argument("--stride", type=int, default=4, help="MD steps between saved frames")
    parser.add_argument(
        "--equilibration", type=int, default=100, help="MD steps before saving, per temperature"
    )
    parser.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs")
    parser.add_argument("--method", default="GFN2-xTB", help="tblite method")
    parser.add_argument("--accuracy", type=float, default=0.01, help="tblite SCF accuracy")
    parser.add_argument("--out", default="data/polymers", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes"
    )


def part_path(out: str | os.PathLike, family: str, units: int) -> Path:
    """Where the job of one family and length writes its frames."""
    return Path(out) / "parts" / f"{family}_n{units}.h5"


def _make_part(family: str, units: int, settings_dict: dict, cap: str, seed: int, out: str) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"
    from noether.atoms.formats import write_hdf5
    from noether.atoms.polymers import build_oligomer, oligomer_smiles
    from noether.atoms.xtb import XTBSampling, frame_temperatures, sample_molecule
    from noether.commands.data_molecules import _molecule_seed

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
    from noether.core.io import atomic_path

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
    same = record.get("settings") == json.loads(json.dumps(settings)) and record.get("cap") == cap
    return record if same and record.get("seed") == seed else {}


def main(args: argparse.Namespace) -> int:
    from noether.atoms.polymers import oligomer_atom_count
    from noether.commands.data_molecules import xtb_sampling

    try:
        families = [f.strip() for f in args.families.split(",") if f.strip()]
        unknown = [f for f in families if f not in POLYMERS]
        if unknown:
            raise ValueError(f"unknown families {unknown}; accepted: {', '.join(POLYMERS)}")
        lengths = _ints(args.lengths)
        frames = _ints(args.frames)
        if len(frames) == 1:
            frames = frames * len(lengths)
        if len(frames) != len(lengths) or not lengths or min(lengths) < 1:
            raise ValueError(
                f"--lengths {lengths} must be >= 1 and --frames {frames} give one value per length"
            )
        temperatures = tuple(float(t) for t in args.temperatures.split(",") if t.strip())
        settings = {units: xtb_sampling(args, n).as_dict() for units, n in zip(lengths, frames)}
    except ValueError as err:
        print(f"noether data polymers: {err}")
        return 2
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # before tblite loads: no oversubscribed OpenMP threads
    out = Path(args.out)
    (out / "parts").mkdir(parents=True, exist_ok=True)
    jobs = [(f, n) for f in families for n in lengths]
    records = {}
    for f, n in jobs:
        record = _finished(out, f, n, settings[n], args.cap, args.seed)
        if record:
            records[(f, n)] = record
    todo = [job for job in jobs if job not in records]
    # Largest first, so the last job to finish is a small one.
    todo.sort(
        key=lambda job: -oligomer_atom_count(job[0], job[1], args.cap) * settings[job[1]]["frames"]
    )
    print(
        f"xTB ({args.method}) Langevin MD at {temperatures} K: {len(families)} families x lengths "
        f"{lengths} ({len(todo)} to run, {len(records)} reused) -> {out}/, {args.workers} worker(s)"
    )
    start = time.perf_counter()
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(args.workers, 1), mp_context=context) as pool:
        futures = {
            pool.submit(_make_part, f, n, settings[n], args.cap, args.seed, str(out)): (f, n)
            for f, n in todo
        }
        for future in as_completed(futures):
            r = future.result()
            records[(r["family"], r["n_units"])] = r
            print(
                f"  {r['name']}: {r['frames']} frames of {r['atoms']} atoms in "
                f"{r['seconds']:.0f} s ({r['cpu_seconds']:.0f} s CPU)",
                flush=True,
            )
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
        "cap": args.cap,
        "seed": args.seed,
        "parts": ordered,
    }
    from noether.core.io import atomic_path

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
    from noether.atoms.formats import HDF5Writer, read_frame_info, read_hdf5

    path = Path(out) / "polymers.h5"
    with HDF5Writer(path) as writer:
        for family, units in jobs:
            part = part_path(out, family, units)
            writer.append(read_hdf5(part), read_frame_info(part))
    return path


def _plot(out: Path, jobs: list[tuple[str, int]]) -> None:
    from noether.atoms.formats import read_hdf5
    from noether.atoms.plots import plot_dataset_summary

    sets = {f"{f}_n{n}": read_hdf5(part_path(out, f, n)) for f, n in jobs}
    plot_dataset_summary(sets, out / "summary.png")
