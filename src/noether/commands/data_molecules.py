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
import os
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from noether.atoms.molecules import RMD17_MOLECULES

if TYPE_CHECKING:
    from noether.atoms.xtb import XTBSampling


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--molecules",
        default=",".join(RMD17_MOLECULES),
        help="comma-separated names, SMILES or name:SMILES (default: the rMD17 eight)",
    )
    parser.add_argument("--frames", type=int, default=2000, help="frames per molecule")
    parser.add_argument(
        "--temperatures", default="500", help="comma-separated MD temperatures in K (default 500)"
    )
    parser.add_argument("--timestep", type=float, default=0.5, help="MD timestep in fs")
    parser.add_argument("--stride", type=int, default=4, help="MD steps between saved frames")
    parser.add_argument("--equilibration", type=int, default=200, help="MD steps before saving")
    parser.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs")
    parser.add_argument("--method", default="GFN2-xTB", help="tblite method (GFN2-xTB, GFN1-xTB)")
    parser.add_argument(
        "--accuracy", type=float, default=0.01, help="tblite SCF accuracy (smaller is tighter)"
    )
    parser.add_argument("--format", choices=("extxyz", "hdf5"), default="extxyz")
    parser.add_argument("--out", default="data/molecules", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val", type=float, default=0.05, help="validation fraction")
    parser.add_argument("--test", type=float, default=0.10, help="test fraction")
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes"
    )


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
    from noether.atoms.formats import write_dataset
    from noether.atoms.molecules import build_molecule
    from noether.atoms.splits import make_splits, save_splits
    from noether.atoms.xtb import XTBSampling, sample_molecule

    start, cpu_start = time.perf_counter(), time.process_time()
    settings = XTBSampling(**settings_dict)
    name, atoms = build_molecule(spec, seed=seed)
    mol_seed = _molecule_seed(seed, name)
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=settings.frames, unit="frame", desc=name)
    ds = sample_molecule(atoms, settings, seed=mol_seed, progress=bar.update if bar else None)
    if bar is not None:
        bar.close()
    suffix = ".xyz" if fmt == "extxyz" else ".h5"
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


def xtb_sampling(args: argparse.Namespace, frames: int) -> XTBSampling:
    """The ``XTBSampling`` of the MD options shared by ``noether data molecules`` and ``polymers``
    (temperatures in K, timestep in fs, friction in 1/fs); ``ValueError`` names a bad value."""
    from noether.atoms.xtb import XTBSampling

    return XTBSampling(
        frames=frames,
        temperatures=tuple(float(t) for t in args.temperatures.split(",") if t.strip()),
        timestep=args.timestep,
        stride=args.stride,
        equilibration=args.equilibration,
        friction=args.friction,
        method=args.method,
        accuracy=args.accuracy,
    )


def main(args: argparse.Namespace) -> int:
    from noether.atoms.formats import read_dataset
    from noether.atoms.molecules import parse_spec
    from noether.atoms.plots import plot_dataset_summary

    specs = [s for s in args.molecules.split(",") if s.strip()]
    try:
        names = [parse_spec(s)[0] for s in specs]
        settings = xtb_sampling(args, args.frames)
    except ValueError as err:
        print(f"noether data molecules: {err}")
        return 2
    if len(set(names)) != len(names):
        print(f"noether data molecules: duplicate molecule names in {names}")
        return 2
    # tblite's OpenMP threads must not compete with each other (or with torch's) for the cores:
    # oversubscribed spinning threads make xTB a hundred times slower. Set before tblite loads.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"xTB ({settings.method}) Langevin MD at {settings.temperatures} K: {len(specs)} molecule(s) x "
        f"{settings.frames} frames -> {out}/ ({args.format}), {args.workers} worker(s)"
    )
    start = time.perf_counter()
    job = (settings.as_dict(), args.seed, str(out), args.format, args.val, args.test)
    results = []
    import multiprocessing

    from tqdm import tqdm

    # Every molecule is made in a fresh process with the same environment, whatever --workers
    # is: the numbers then do not depend on what the parent process loaded before (BLAS threads).
    context = multiprocessing.get_context("spawn")
    alone = args.workers <= 1
    with ProcessPoolExecutor(max(args.workers, 1), mp_context=context) as pool:
        futures = {pool.submit(_make_one, spec, *job, alone): spec for spec in specs}
        with tqdm(total=len(specs), unit="molecule", disable=alone) as bar:
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
        "seed": args.seed,
        "molecules": results,
    }
    from noether.core.io import atomic_path

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
