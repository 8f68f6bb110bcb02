"""`noether data molecules`: GFN2-xTB reference data for molecules (an rMD17-style set by default).

Builds each molecule (RDKit from SMILES, or ASE's g2 names), samples it by xTB Langevin MD at the
chosen temperatures, and writes ``<out>/<name>.xyz`` (or ``.h5``) with energies (eV) and forces
(eV/Å) under ``REF_energy``/``REF_forces``, a splits file ``<name>_splits.npz``
(``idx_train``, ``idx_val``, ``idx_test``), ``summary.json`` and ``summary.png``.
Deterministic in ``--seed``: a molecule's frames do not depend on the others or on ``--workers``
(each is made in its own process with one thread).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from noether.atoms.formats import read_dataset, write_dataset
from noether.atoms.molecules import RMD17_MOLECULES, build_molecule, parse_spec
from noether.atoms.plots import plot_dataset_summary
from noether.atoms.splits import make_splits, save_splits
from noether.atoms.xtb import XTBSampling, sample_molecule
from noether.commands.options import (
    add_common_options,
    add_options,
    config_from_args,
    fail,
    refuse_overwrite,
)
from noether.core.io import atomic_path
from noether.core.progress import Progress

XTB_HELP = {
    "frames": "frames per molecule, split evenly over the temperatures",
    "temperatures": "MD temperatures in K",
    "timestep": "MD timestep in fs",
    "stride": "MD steps between saved frames",
    "equilibration": "MD steps before saving, per temperature",
    "friction": "Langevin friction, 1/fs",
    "method": "tblite method (GFN2-xTB, GFN1-xTB)",
    "accuracy": "tblite SCF accuracy (smaller is tighter)",
    "relax_fmax": "force threshold (eV/Å) of the BFGS relaxation before MD; 0: none",
}
"""Help of the :class:`~noether.atoms.xtb.XTBSampling` options (shared with data polymers)."""


@dataclass(frozen=True)
class MoleculesJob:
    """Which molecules ``noether data molecules`` makes, and where.

    Attributes:
        molecules: molecule names (ASE's g2 or the rMD17 set), SMILES or name:SMILES.
        format: file format of each molecule's frames.
        out: output folder.
        seed: random seed (each molecule's seed derives from it and its name).
        val: validation fraction.
        test: test fraction.
        workers: parallel processes.
    """

    molecules: tuple[str, ...] = tuple(RMD17_MOLECULES)
    format: Literal["extxyz", "hdf5"] = "extxyz"
    out: str = "data/molecules"
    seed: int = 0
    val: float = 0.05
    test: float = 0.10
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, MoleculesJob)
    add_options(parser, XTBSampling, help=XTB_HELP)
    add_common_options(parser)


SUFFIX = {"extxyz": ".xyz", "hdf5": ".h5"}


def outputs(out: Path, names: list[str], fmt: str) -> list[Path]:
    """The files a run of ``names`` writes in ``out``."""
    files = [out / f"{n}{SUFFIX[fmt]}" for n in names] + [out / f"{n}_splits.npz" for n in names]
    return [*files, out / "summary.json", out / "summary.png"]


def _molecule_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**31


def _make_one(
    spec: str,
    settings_dict: dict,
    seed: int,
    out: str,
    fmt: str,
    val: float,
    test: float,
    show_progress: bool,
) -> dict:
    os.environ["OMP_NUM_THREADS"] = "1"
    start, cpu_start = time.perf_counter(), time.process_time()
    settings = XTBSampling(**settings_dict)
    name, atoms = build_molecule(spec, seed=seed)
    mol_seed = _molecule_seed(seed, name)
    with Progress(settings.frames, desc=name, unit="frame", enabled=show_progress) as bar:
        ds = sample_molecule(atoms, settings, seed=mol_seed, progress=bar.update)
    suffix = SUFFIX[fmt]
    path = Path(out) / f"{name}{suffix}"
    write_dataset(path, ds, format=fmt)
    splits = make_splits(len(ds), None, val, test, seed=mol_seed)
    save_splits(Path(out) / f"{name}_splits.npz", splits)
    return {
        "name": name,
        "spec": spec,
        "file": path.name,
        "atoms": int(ds.n_atoms[0]),
        "frames": len(ds),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "energy_mean_eV": float(ds.energy.mean()),
        "energy_std_meV_per_atom": float(ds.energy.std() / ds.n_atoms[0] * 1e3),
        "force_rms_eV_per_A": float((ds.forces**2).mean() ** 0.5),
        "splits": {k: len(v) for k, v in splits.items()},
    }


def main(args: argparse.Namespace) -> int:
    job = config_from_args(args, MoleculesJob)
    settings = config_from_args(args, XTBSampling)
    specs = list(job.molecules)
    try:
        names = [parse_spec(s)[0] for s in specs]
    except ValueError as err:
        fail(args, f"--molecules {','.join(specs)}: {err}")
    if len(set(names)) != len(names):
        fail(args, f"--molecules: duplicate molecule names in {names}")
    # tblite's OpenMP threads must not compete with each other (or with torch's) for the cores:
    # oversubscribed spinning threads make xTB a hundred times slower. Set before tblite loads.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    out = Path(job.out)
    refuse_overwrite(args, *outputs(out, names, job.format))
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"xTB ({settings.method}) Langevin MD at {settings.temperatures} K: {len(specs)} molecule(s) x "
        f"{settings.frames} frames -> {out}/ ({job.format}), {job.workers} worker(s)"
    )
    start = time.perf_counter()
    shared = (settings.as_dict(), job.seed, str(out), job.format, job.val, job.test)
    results = []
    # Every molecule is made in a fresh process with the same environment, whatever --workers
    # is: the numbers then do not depend on what the parent process loaded before (BLAS threads).
    context = multiprocessing.get_context("spawn")
    alone = job.workers <= 1
    with ProcessPoolExecutor(max(job.workers, 1), mp_context=context) as pool:
        futures = {
            pool.submit(_make_one, spec, *shared, alone and args.progress): spec for spec in specs
        }
        enabled = args.progress and not alone  # one worker: its molecule's own progress
        with Progress(len(specs), desc="molecules", unit="molecule", enabled=enabled) as bar:
            for future in as_completed(futures):
                r = future.result()
                results.append(r)
                bar.write(
                    f"  {r['name']}: {r['frames']} frames of {r['atoms']} atoms in "
                    f"{r['seconds']:.1f} s ({r['cpu_seconds']:.1f} s CPU)"
                )
                bar.update(1)
    elapsed = time.perf_counter() - start
    results.sort(key=lambda r: names.index(r["name"]))
    summary = {
        "seconds": elapsed,
        "settings": settings.as_dict(),
        "seed": job.seed,
        "molecules": results,
    }
    with atomic_path(out / "summary.json", ".json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    sets = {r["name"]: read_dataset(out / r["file"]) for r in results}
    plot_dataset_summary(sets, out / "summary.png")
    total = sum(r["frames"] for r in results)
    cpu = sum(r["cpu_seconds"] for r in results)
    print(
        f"{total} frames in {elapsed:.1f} s ({cpu:.1f} s CPU in workers); wrote {out}/summary.json and {out}/summary.png"
    )
    return 0
