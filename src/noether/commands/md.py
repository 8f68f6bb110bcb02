"""`noether md`: NVE or Langevin MD through ASE with a noether potential (or xTB for reference).

Writes ``<out>/trajectory.xyz`` (logged frames), ``<out>/log.csv`` (time, energies, temperature),
``<out>/md.png`` (energies, temperature, stability) and ``<out>/summary.json``; prints the energy
drift in meV/atom/ps and whether the stability monitor (bond stretch, closest approach, NaN) held.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.md import run_md
from noether.atoms.molecules import build_molecule
from noether.atoms.plots import plot_md
from noether.atoms.potential import Potential
from noether.atoms.stability import StabilityMonitor
from noether.atoms.xtb import xtb_calculator
from noether.core.io import atomic_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        help="a checkpoint (.pt, .ckpt), an exported model (.pt2), or 'xtb' for GFN2-xTB",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--structure", help="starting structure: any file ASE reads (first frame)")
    source.add_argument(
        "--molecule", default="ethanol", help="or a molecule name / SMILES (default ethanol)"
    )
    parser.add_argument("--ensemble", choices=("nve", "langevin"), default="nve")
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--friction", type=float, default=0.01, help="Langevin friction, 1/fs")
    parser.add_argument("--log-every", type=int, default=10, help="steps between logged frames")
    parser.add_argument("--max-bond-stretch", type=float, default=0.5, help="Å")
    parser.add_argument("--min-distance", type=float, default=0.5, help="Å")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="wall-clock seconds; stop cleanly at the first logged frame past it (outputs written)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="run the model through torch.compile (Potential.compile_inference): faster steps "
        "after a first step that compiles for a minute or two",
    )
    parser.add_argument("--out", default="runs/md", help="output folder")


def _calculator(model: str, device: str, compile: bool = False):
    if model == "xtb":
        if compile:
            raise ValueError("--compile applies to a noether model, not to xtb")
        return xtb_calculator()
    calc = NoetherCalculator(model, device=device)
    if compile:
        if not isinstance(calc.model, Potential):
            raise ValueError(
                f"--compile needs a noether Potential, got {type(calc.model).__name__}"
            )
        calc.model.compile_inference()
    return calc


def main(args: argparse.Namespace) -> int:
    if "OMP_NUM_THREADS" not in os.environ:  # one thread unless asked (torch is loaded by now)
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
    try:
        if args.structure:
            from ase.io import read

            atoms = read(args.structure, index=0)
            label = Path(args.structure).name
        else:
            label, atoms = build_molecule(args.molecule, seed=args.seed)
        calc = _calculator(args.model, args.device, args.compile)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"noether md: {err}")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.ensemble} MD of {label} ({len(atoms)} atoms) with {args.model}: {args.steps} steps "
        f"of {args.timestep} fs at {args.temperature} K"
    )
    monitor = StabilityMonitor(args.max_bond_stretch, args.min_distance)
    start = time.perf_counter()
    result = run_md(
        atoms,
        calc,
        ensemble=args.ensemble,
        timestep=args.timestep,
        steps=args.steps,
        temperature=args.temperature,
        friction=args.friction,
        seed=args.seed,
        log_every=args.log_every,
        trajectory=out / "trajectory.xyz",
        monitor=monitor,
        progress=True,
        time_limit=args.time_limit,
    )
    elapsed = time.perf_counter() - start
    table = np.column_stack(
        [result.time_fs, result.potential, result.kinetic, result.total, result.temperature]
    )
    with atomic_path(out / "log.csv", ".csv") as tmp:
        np.savetxt(tmp, table, delimiter=",", header="time_fs,epot_eV,ekin_eV,etot_eV,T_K")
    plot_md(result, out / "md.png", title=f"{label}, {args.ensemble}, {args.model}")
    summary = {
        "structure": label,
        "model": args.model,
        "ensemble": args.ensemble,
        "steps": result.steps,
        "steps_requested": args.steps,
        "time_limited": result.time_limited,
        "simulated_ps": result.steps * args.timestep / 1000.0,
        "seconds": elapsed,
        "ms_per_step": 1e3 * elapsed / max(result.steps, 1),
        "mean_temperature_K": float(result.temperature.mean()),
        "drift_meV_per_atom_per_ps": result.drift if len(result.time_fs) > 1 else None,
        "fluctuation_meV_per_atom": result.fluctuation,
        "stable": result.stable,
        "failure": result.failure,
        "failure_time_fs": result.failure_time_fs,
    }
    with atomic_path(out / "summary.json", ".json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    drift = summary["drift_meV_per_atom_per_ps"]
    print(
        f"  {result.steps} steps in {elapsed:.1f} s ({summary['ms_per_step']:.2f} ms/step); "
        f"<T> = {summary['mean_temperature_K']:.0f} K; drift "
        f"{'n/a' if drift is None else f'{drift:+.3g}'} meV/atom/ps; "
        + (
            "stable"
            if result.stable
            else f"UNSTABLE at {result.failure_time_fs:.0f} fs: {result.failure}"
        )
    )
    if result.time_limited:
        print(
            f"  stopped at the time limit ({args.time_limit:g} s) after {result.steps} of "
            f"{args.steps} steps ({summary['simulated_ps']:.3g} ps)"
        )
    print(f"  wrote {out}/trajectory.xyz, log.csv, md.png, summary.json")
    return 0 if result.stable else 1
