"""Molecular dynamics through ASE: velocity Verlet (NVE) or Langevin (NVT), with health checks.

:func:`run_md` integrates, logs energies and temperature every ``log_every`` steps, runs a
:class:`~noether.atoms.stability.StabilityMonitor` on each logged frame (stopping at the first
failure), fits the energy drift (meV/atom/ps; NVE only: a thermostat exchanges energy with its
bath) and writes the logged frames as extended XYZ. :class:`MDSettings` holds and checks the
integrator's settings; :func:`read_structure` reads a starting structure from any file noether
reads (or ASE reads), one frame of it.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Literal

import numpy as np
from ase import units
from ase.io import read as ase_read
from ase.io import write as ase_write
from ase.md import velocitydistribution as _vd
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats import read_dataset
from noether.atoms.stability import StabilityMonitor, energy_drift
from noether.core.io import atomic_path

__all__ = ["ENSEMBLES", "MDResult", "MDSettings", "read_structure", "run_md", "thermalize"]

ENSEMBLES = ("nve", "langevin")
#: Extensions read by noether's own readers (:mod:`noether.atoms.formats`); others go to ASE.
NOETHER_SUFFIXES = (".xyz", ".extxyz", ".npz", ".h5", ".hdf5")


@dataclass(frozen=True)
class MDSettings:
    """How :func:`run_md` integrates (checked on construction).

    Attributes:
        ensemble: nve (velocity Verlet: the total energy is conserved and its drift measured) or
            langevin (NVT: a thermostat holds the temperature).
        temperature: K: the initial Maxwell-Boltzmann velocities and the Langevin bath.
        timestep: fs.
        steps: MD steps.
        friction: Langevin friction in 1/fs.
        log_every: steps between logged frames (energies, temperature, stability check).
        seed: seeds the initial velocities and the Langevin noise.
    """

    ensemble: Literal["nve", "langevin"] = "nve"
    temperature: float = 300.0
    timestep: float = 0.5
    steps: int = 2000
    friction: float = 0.01
    log_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if self.ensemble not in ENSEMBLES:
            raise ValueError(
                f"unknown ensemble {self.ensemble!r}; accepted: {', '.join(ENSEMBLES)}"
            )
        for name, unit, lowest in (
            ("temperature", "K", ">= 0"),
            ("timestep", "fs", "> 0"),
            ("friction", "1/fs", ">= 0"),
        ):
            value = getattr(self, name)
            ok = isinstance(value, Real) and math.isfinite(value)
            if not ok or not (value > 0 if lowest == "> 0" else value >= 0):
                raise ValueError(f"{name} must be a finite number {lowest} {unit}; got {value}")
        for name in ("steps", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value}")


def thermalize(atoms, temperature: float, rng: np.random.Generator) -> None:
    """Maxwell-Boltzmann momenta at ``temperature`` K (whichever ASE version is installed)."""
    if hasattr(_vd, "thermalize_momenta"):
        _vd.thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
    else:  # ASE < 3.29
        _vd.MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)


def read_structure(path: str | os.PathLike, frame: int = 0):
    """Frame ``frame`` of ``path`` as an ``ase.Atoms`` (positions Å), checked like a dataset.

    ``.xyz``/``.extxyz``, ``.npz`` (sGDML, rMD17) and ``.h5``/``.hdf5`` are read by noether's
    readers (:func:`~noether.atoms.formats.read_dataset`; labels are not needed); any other file
    by ASE. Errors are ``ValueError`` / ``FileNotFoundError`` naming the file and the frame: an
    unreadable file, a frame out of range, NaN positions, an atomic number that is no element,
    a periodic frame without a cell.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in NOETHER_SUFFIXES:
        labels = {}
        if path.suffix.lower() in (".xyz", ".extxyz"):
            labels = {"energy_key": None, "forces_key": None, "stress_key": None}
        ds = read_dataset(path, **labels)
        if not -len(ds) <= frame < len(ds):
            raise ValueError(
                f"{path}: frame {frame} does not exist; the file holds {len(ds)} frame(s): "
                f"accepted 0 to {len(ds) - 1} (or -1 for the last)"
            )
        return ds.to_atoms(frame % len(ds))
    try:
        atoms = ase_read(path, index=frame)
    except IndexError:
        raise ValueError(f"{path}: frame {frame} does not exist in the file") from None
    except Exception as err:  # ASE raises many types for a file it cannot parse
        raise ValueError(
            f"{path}: not readable as a structure ({type(err).__name__}: {err}); accepted: "
            f".xyz, .extxyz, .npz (sGDML, rMD17), .h5, .hdf5, or a format ASE reads"
        ) from err
    check_structure(atoms, f"{path}: frame {frame}")
    return atoms


def check_structure(atoms, where: str = "the structure") -> None:
    """Raise a ``ValueError`` starting with ``where`` if ``atoms`` is not a valid frame (NaN
    positions or cell, an atomic number that is no element, a periodic frame without a cell):
    the checks of :class:`~noether.atoms.dataset.AtomsDataset`, on one frame. A periodic cell
    with a zero vector (ASE's 2D cell) is left to the calculator."""
    cell = np.asarray(atoms.cell[:], dtype=np.float64)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any() and np.isfinite(cell).all() and abs(np.linalg.det(cell)) < 1e-8:
        cell = pbc = None
    try:
        AtomsDataset(
            numbers=atoms.numbers,
            positions=atoms.positions,
            offsets=[0, len(atoms)],
            cell=None if cell is None else cell[None],
            pbc=None if pbc is None else pbc[None],
        )
    except ValueError as err:
        # The dataset names its one frame "frame 0"; the caller's ``where`` says which it is.
        message = re.sub(r"^frame 0(, |: | )?", "", str(err))
        raise ValueError(
            f"{where}{', ' if message.startswith('atom ') else ': '}{message}"
        ) from None


class _Unstable(Exception):
    pass


class _TimeLimit(Exception):
    pass


@dataclass
class MDResult:
    """What an MD run measured, one entry per logged frame (eV, K, fs)."""

    time_fs: np.ndarray
    potential: np.ndarray
    kinetic: np.ndarray
    temperature: np.ndarray
    n_atoms: int
    steps: int
    failure: str | None = None
    failure_time_fs: float | None = None
    history: dict = field(default_factory=dict)
    #: True when the run stopped at ``time_limit`` before its last step (not a failure).
    time_limited: bool = False
    #: ``"nve"`` or ``"langevin"``; the drift means something only for ``"nve"``.
    ensemble: str = "nve"
    #: The bath temperature of a Langevin run (K); the initial one of an NVE run.
    target_temperature: float | None = None

    @property
    def total(self) -> np.ndarray:
        return self.potential + self.kinetic

    @property
    def stable(self) -> bool:
        return self.failure is None

    @property
    def drift(self) -> float:
        """Energy drift in meV/atom/ps (meaningful for NVE)."""
        return energy_drift(self.time_fs, self.total, self.n_atoms)

    @property
    def conserves_energy(self) -> bool:
        """True for NVE: the total energy should be constant, so its drift measures the run."""
        return self.ensemble == "nve"

    @property
    def fluctuation(self) -> float:
        """Standard deviation of the total energy, meV/atom."""
        return float(np.std(self.total) * 1e3 / self.n_atoms)


def show_bar() -> bool:
    """A progress bar only when both output streams are terminals; else plain lines."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def run_md(
    atoms,
    calculator=None,
    *,
    ensemble: str = "nve",
    timestep: float = 0.5,
    steps: int = 1000,
    temperature: float = 300.0,
    friction: float = 0.01,
    seed: int = 0,
    log_every: int = 10,
    trajectory: str | os.PathLike | None = None,
    monitor: StabilityMonitor | None = None,
    initialize_velocities: bool = True,
    progress: bool = False,
    time_limit: float | None = None,
) -> MDResult:
    """Run MD on ``atoms`` (changed in place) and return the log.

    Args:
        calculator: an ASE calculator (``atoms.calc`` if None).
        ensemble: ``"nve"`` (velocity Verlet) or ``"langevin"`` (NVT at ``temperature``).
        timestep: fs. temperature: K (initial velocities and the Langevin bath).
        friction: Langevin friction in 1/fs.
        seed: seeds the initial velocities and the Langevin noise.
        trajectory: extended XYZ file for the logged frames (written atomically at the end, and
            also when the run ends in an error: what was logged is kept).
        monitor: stability monitor (a default one if None; stops the run on failure). Its bonds
            are those of the starting structure unless it was started on another one.
        progress: a bar on a terminal; otherwise a plain line on standard output at every
            tenth of the run (step, time, temperature, total energy, speed, with units).
        time_limit: wall-clock seconds; at the first logged frame past it the run stops cleanly
            (``result.time_limited``, ``result.steps`` tells how far it got) and still returns
            and writes everything, so a run on a shared machine can be given a budget.

    Settings out of range raise ``ValueError`` (see :class:`MDSettings`), as does a starting
    structure with non-finite positions. An error of the calculator on the starting structure
    is raised as it is (nothing is written). An error after it ends the run like an instability:
    ``result.failure`` says what and ``result.failure_time_fs`` when, and the log is kept.
    """
    MDSettings(
        ensemble=ensemble,
        temperature=temperature,
        timestep=timestep,
        steps=steps,
        friction=friction,
        log_every=log_every,
        seed=seed,
    )
    if time_limit is not None and not time_limit >= 0:
        raise ValueError(f"time_limit must be a number of seconds >= 0; got {time_limit}")
    if calculator is not None:
        atoms.calc = calculator
    if atoms.calc is None:
        raise ValueError("atoms have no calculator; pass calculator=")
    check_structure(atoms, "the starting structure")
    # Step 0 first: an error of the calculator here is the caller's to see, not an instability.
    atoms.get_potential_energy()
    atoms.get_forces()
    rng = np.random.default_rng(seed)
    if initialize_velocities:
        thermalize(atoms, temperature, rng)
        Stationary(atoms)
        if not atoms.pbc.any():
            # ASE divides by each moment of inertia before dropping the zero one of a linear
            # molecule (a harmless "invalid value" warning)
            with np.errstate(invalid="ignore", divide="ignore"):
                ZeroRotation(atoms)
    if ensemble == "nve":
        dyn = VelocityVerlet(atoms, timestep=timestep * units.fs)
    else:
        dyn = Langevin(
            atoms,
            timestep=timestep * units.fs,
            temperature_K=temperature,
            friction=friction / units.fs,
            rng=rng,
            fixcm=False,
        )
    monitor = monitor or StabilityMonitor()
    if monitor.bonds is None:  # a monitor may come with the bonds of a reference structure
        monitor.start(atoms)
    log: dict[str, list] = {"time": [], "epot": [], "ekin": [], "temp": []}
    frames = []
    bar = None
    if progress and show_bar():
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", desc=f"MD {ensemble}")
    tenth = [0]  # the last tenth of the run reported by a plain progress line

    start = time.perf_counter()

    def report(step: int, epot: float, ekin: float, temp: float) -> None:
        if bar is not None:
            bar.n = step
            bar.refresh()
            return
        if not progress or step * 10 // steps <= tenth[0]:
            return
        tenth[0] = step * 10 // steps
        seconds = time.perf_counter() - start
        print(
            f"  step {step}/{steps} ({100 * step // steps}%): t {step * timestep / 1000:.4g} ps, "
            f"T {temp:.1f} K, E_tot {epot + ekin:.6g} eV, {1e3 * seconds / step:.3g} ms/step",
            flush=True,
        )

    def observe() -> None:
        epot = float(atoms.get_potential_energy())
        reason = monitor.check(atoms, epot)
        log["time"].append(dyn.get_time() / units.fs)
        log["epot"].append(epot)
        log["ekin"].append(float(atoms.get_kinetic_energy()))
        log["temp"].append(float(atoms.get_temperature()))
        if trajectory is not None:
            frame = atoms.copy()
            frame.calc = None
            frame.info["energy_pot"] = epot
            frames.append(frame)
        report(int(dyn.nsteps), epot, log["ekin"][-1], log["temp"][-1])
        if reason is not None:
            raise _Unstable(reason)
        if time_limit is not None and time.perf_counter() - start > time_limit:
            raise _TimeLimit()

    dyn.attach(observe, interval=log_every)
    failure, failure_time, time_limited = None, None, False
    try:
        dyn.run(steps)  # ASE calls the observer at step 0 too
    except _TimeLimit:
        time_limited = True
    except _Unstable as err:
        failure, failure_time = str(err), dyn.get_time() / units.fs
    except (ArithmeticError, ValueError) as err:
        # the calculator refused a frame mid-run (it took the starting structure)
        failure, failure_time = f"{type(err).__name__}: {err}", dyn.get_time() / units.fs
    finally:
        if bar is not None:
            bar.close()
        if trajectory is not None and frames:
            with atomic_path(trajectory, ".xyz") as tmp:
                ase_write(tmp, frames, format="extxyz")
    return MDResult(
        time_fs=np.array(log["time"]),
        potential=np.array(log["epot"]),
        kinetic=np.array(log["ekin"]),
        temperature=np.array(log["temp"]),
        n_atoms=len(atoms),
        steps=int(dyn.nsteps),
        failure=failure,
        failure_time_fs=failure_time,
        history=monitor.history,
        time_limited=time_limited,
        ensemble=ensemble,
        target_temperature=float(temperature),
    )
