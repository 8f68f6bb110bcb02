"""`noether md`: NVE or Langevin MD through ASE with a noether potential (or xTB for reference).

Writes ``<out>/trajectory.xyz`` (logged frames), ``<out>/log.csv`` (time, energies, temperature,
units in the header), ``<out>/md.png`` (energies, temperature, stability) and
``<out>/summary.json``; prints, with units, the energy drift of an NVE run in meV/atom/ps (a
Langevin run: the temperature's mean ± spread against the bath, since a thermostat exchanges
energy with its bath) and whether the stability monitor (bond stretch, closest approach, NaN)
held. The options are the fields of :class:`~noether.atoms.md.MDSettings` (the integrator),
:class:`MDJob` (where and how) and the limits of
:class:`~noether.atoms.stability.StabilityMonitor`, built by :mod:`noether.commands.options`;
``--model``, ``--structure`` and ``--molecule`` are this command's own.

A value out of range is a usage error (exit status 2) naming the option; a file that cannot be
used (model, structure, an output folder that is not empty without ``--overwrite``) or an
error of the model on the starting structure is one line ``noether md: error: ...`` (exit
status 2) and nothing is written. A run that fails mid-way keeps what it logged, says at which
step, and exits with status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.md import MDResult, MDSettings, read_structure, run_md
from noether.atoms.molecules import build_molecule
from noether.atoms.plots import plot_md
from noether.atoms.potential import Potential
from noether.atoms.stability import StabilityMonitor
from noether.atoms.xtb import xtb_calculator
from noether.commands.options import add_options, config_from_args, fail
from noether.core.io import atomic_path
from noether.sims.nbody.dataset import check_writable

OUTPUTS = ("trajectory.xyz", "log.csv", "md.png", "summary.json")
LOG_HEADER = "time_fs,epot_eV,ekin_eV,etot_eV,T_K"

#: Errors a user causes with a file or a value (printed as one line, exit status 2).
USER_ERRORS = (ValueError, KeyError, OSError, ImportError, NotImplementedError)


@dataclass(frozen=True)
class MDJob:
    """Where ``noether md`` starts and writes, and how it runs.

    Attributes:
        frame: frame of --structure to start from (0 the first, -1 the last).
        out: output folder (trajectory.xyz, log.csv, md.png, summary.json).
        overwrite: replace the files of an output folder that is not empty.
        progress: show progress: a bar on a terminal, else a plain line at every tenth of the run.
        time_limit: wall-clock seconds; stop cleanly at the first logged frame past it (all
            outputs written).
        device: where the model runs (cpu, cuda).
        compile: run the model through torch.compile (Potential.compile_inference): faster
            steps after a first step that compiles for a minute or two.
    """

    frame: int = 0
    out: str = "runs/md"
    overwrite: bool = False
    progress: bool = True
    time_limit: float | None = None
    device: str = "cpu"
    compile: bool = False

    def __post_init__(self) -> None:
        if self.time_limit is not None and not self.time_limit >= 0:
            raise ValueError(f"time_limit must be a number of seconds >= 0; got {self.time_limit}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="the potential: a training run folder (runs/<run>: its best checkpoint), one of its "
        ".ckpt files, a save_potential checkpoint (.pt), an exported model (.pt2), or 'xtb' for "
        "GFN2-xTB (reference); a run of another task (n-body, say) is refused",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--structure",
        metavar="FILE",
        help="starting structure: .xyz/.extxyz, .npz (sGDML, rMD17), .h5/.hdf5 (the formats "
        "noether trains on) or any file ASE reads; one frame of it, see --frame "
        "(default: none, --molecule is built)",
    )
    source.add_argument(
        "--molecule",
        default="ethanol",
        help="or a molecule name or SMILES, built with RDKit (default: ethanol)",
    )
    add_options(parser, MDSettings)
    add_options(parser, MDJob)
    add_options(
        parser,
        StabilityMonitor,
        include=("max_bond_stretch", "min_distance"),
        help={
            "max_bond_stretch": "Å: stop when a bond of the starting structure changes by more",
            "min_distance": "Å: stop when two atoms come closer",
        },
    )
    parser.epilog = (
        "Units: Å, fs, K, eV. Outputs in --out: " + ", ".join(OUTPUTS) + ". See docs/atoms.md."
    )


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


def _error(err: BaseException) -> int:
    """One line on stderr; exit status 2."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    print(f"noether md: error: {text}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    settings = config_from_args(args, MDSettings)
    job = config_from_args(args, MDJob)
    monitor = config_from_args(args, StabilityMonitor)
    if args.structure is None and job.frame != 0:
        fail(args, f"--frame {job.frame}: applies to a --structure file, not to --molecule")
    if "OMP_NUM_THREADS" not in os.environ:  # one thread unless asked (torch is loaded by now)
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
    out = Path(job.out)
    try:
        check_writable(out, overwrite=job.overwrite)
        if args.structure:
            atoms = read_structure(args.structure, job.frame)
            label = f"{Path(args.structure).name} frame {job.frame}"
        else:
            label, atoms = build_molecule(args.molecule, seed=settings.seed)
        calc = _calculator(args.model, job.device, job.compile)
    except USER_ERRORS as err:
        return _error(err)
    bath = (
        f"bath {settings.temperature:g} K, friction {settings.friction:g} 1/fs"
        if settings.ensemble == "langevin"
        else f"initial velocities at {settings.temperature:g} K"
    )
    print(
        f"{settings.ensemble} MD of {label} ({len(atoms)} atoms) with {args.model}: "
        f"{settings.steps} steps of {settings.timestep:g} fs "
        f"({settings.steps * settings.timestep / 1000:.4g} ps), {bath}",
        flush=True,
    )
    start = time.perf_counter()
    try:
        result = run_md(
            atoms,
            calc,
            **dataclasses.asdict(settings),
            trajectory=out / "trajectory.xyz",
            monitor=monitor,
            progress=job.progress,
            time_limit=job.time_limit,
        )
    except USER_ERRORS as err:  # the model refused the starting structure: nothing written
        return _error(err)
    elapsed = time.perf_counter() - start
    summary = _summary(result, settings, job, label, args.model, elapsed)
    table = np.column_stack(
        [result.time_fs, result.potential, result.kinetic, result.total, result.temperature]
    )
    with atomic_path(out / "log.csv", ".csv") as tmp:
        np.savetxt(tmp, table, fmt="%.12g", delimiter=",", header=LOG_HEADER, comments="")
    plot_md(result, out / "md.png", title=f"{label}, {settings.ensemble}, {args.model}")
    with atomic_path(out / "summary.json", ".json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    _report(result, summary, settings, job, out)
    return 0 if result.stable else 1


def _summary(
    result: MDResult, settings: MDSettings, job: MDJob, label: str, model: str, elapsed: float
) -> dict:
    nve = result.conserves_energy and len(result.time_fs) > 1
    return {
        "structure": label,
        "model": model,
        "ensemble": settings.ensemble,
        "timestep_fs": settings.timestep,
        "temperature_K": settings.temperature,
        "friction_per_fs": settings.friction if settings.ensemble == "langevin" else None,
        "steps": result.steps,
        "steps_requested": settings.steps,
        "time_limited": result.time_limited,
        "simulated_ps": result.steps * settings.timestep / 1000.0,
        "seconds": elapsed,
        "ms_per_step": 1e3 * elapsed / max(result.steps, 1),
        "mean_temperature_K": float(result.temperature.mean()),
        "std_temperature_K": float(result.temperature.std()),
        # a thermostat exchanges energy with its bath: no drift to measure under Langevin
        "drift_meV_per_atom_per_ps": result.drift if nve else None,
        "fluctuation_meV_per_atom": result.fluctuation if result.conserves_energy else None,
        "stable": result.stable,
        "failure": result.failure,
        "failure_step": None if result.stable else result.steps,
        "failure_time_fs": result.failure_time_fs,
        "logged_frames": len(result.time_fs),
    }


def _report(result: MDResult, summary: dict, settings: MDSettings, job: MDJob, out: Path) -> None:
    print(
        f"  {result.steps} steps ({summary['simulated_ps']:.4g} ps) in {summary['seconds']:.1f} s "
        f"({summary['ms_per_step']:.2f} ms/step)"
    )
    t_mean, t_std = summary["mean_temperature_K"], summary["std_temperature_K"]
    if settings.ensemble == "langevin":
        print(f"  temperature {t_mean:.1f} ± {t_std:.1f} K (bath {settings.temperature:g} K)")
    else:
        drift = summary["drift_meV_per_atom_per_ps"]
        drift_text = "n/a (one logged frame)" if drift is None else f"{drift:+.3g} meV/atom/ps"
        print(
            f"  total energy drift {drift_text}, fluctuation "
            f"{summary['fluctuation_meV_per_atom']:.3g} meV/atom; temperature "
            f"{t_mean:.1f} ± {t_std:.1f} K"
        )
    hist = result.history
    if result.stable:
        if hist.get("max_stretch"):
            print(
                f"  stable: largest bond change {max(hist['max_stretch']):.3f} Å, closest "
                f"approach {min(hist['min_distance']):.3f} Å"
            )
        else:
            print("  stable")
    else:
        print(
            f"  UNSTABLE at step {result.steps} ({result.failure_time_fs:g} fs): "
            f"{result.failure}; the {len(result.time_fs)} frames logged up to there are kept"
        )
    if result.time_limited:
        print(
            f"  stopped at the time limit ({job.time_limit:g} s) after {result.steps} of "
            f"{settings.steps} steps ({summary['simulated_ps']:.3g} ps)"
        )
    print(f"  wrote {out}/{', '.join(OUTPUTS)}")
