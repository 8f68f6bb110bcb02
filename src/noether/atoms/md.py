"""Molecular dynamics through ASE: velocity Verlet (NVE) or Langevin (NVT), with health checks.

:func:`run_md` integrates, logs energies and temperature every ``log_every`` steps, runs a
:class:`~noether.atoms.stability.StabilityMonitor` on each logged frame (stopping at the first
failure), fits the energy drift (meV/atom/ps) and writes the logged frames as extended XYZ.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
from ase import units
from ase.md import velocitydistribution as _vd
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

from noether.atoms.stability import StabilityMonitor, energy_drift
from noether.core.io import atomic_path

__all__ = ["ENSEMBLES", "MDResult", "run_md", "thermalize"]

ENSEMBLES = ("nve", "langevin")


def thermalize(atoms, temperature: float, rng: np.random.Generator) -> None:
    """Maxwell-Boltzmann momenta at ``temperature`` K (whichever ASE version is installed)."""
    if hasattr(_vd, "thermalize_momenta"):
        _vd.thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
    else:  # ASE < 3.29
        _vd.MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)


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
    def fluctuation(self) -> float:
        """Standard deviation of the total energy, meV/atom."""
        return float(np.std(self.total) * 1e3 / self.n_atoms)


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
        trajectory: extended XYZ file for the logged frames (written atomically at the end).
        monitor: stability monitor (a default one if None; stops the run on failure). Its bonds
            are those of the starting structure unless it was started on another one.
        time_limit: wall-clock seconds; at the first logged frame past it the run stops cleanly
            (``result.time_limited``, ``result.steps`` tells how far it got) and still returns
            and writes everything, so a run on a shared machine can be given a budget.
    """
    if ensemble not in ENSEMBLES:
        raise ValueError(f"unknown ensemble {ensemble!r}; accepted: {', '.join(ENSEMBLES)}")
    if not (timestep > 0 and steps >= 1 and log_every >= 1):
        raise ValueError(
            f"need timestep > 0 fs, steps >= 1 and log_every >= 1; got {timestep}, {steps}, "
            f"{log_every}"
        )
    if calculator is not None:
        atoms.calc = calculator
    if atoms.calc is None:
        raise ValueError("atoms have no calculator; pass calculator=")
    rng = np.random.default_rng(seed)
    if initialize_velocities:
        thermalize(atoms, temperature, rng)
        Stationary(atoms)
        if not atoms.pbc.any():
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
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", desc=f"MD {ensemble}")

    start = time.perf_counter()

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
        if bar is not None:
            bar.n = dyn.nsteps
            bar.refresh()
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
    except (FloatingPointError, ValueError) as err:
        failure, failure_time = f"{type(err).__name__}: {err}", dyn.get_time() / units.fs
    finally:
        if bar is not None:
            bar.close()
    if trajectory is not None and frames:
        from ase.io import write

        with atomic_path(trajectory, ".xyz") as tmp:
            write(tmp, frames, format="extxyz")
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
    )
