"""Langevin MD of many molecules at once with one potential call per step.

Small molecules cost a learned potential mostly per call, not per atom, so running the molecules
of a stability benchmark side by side (one flat batch, each molecule its own graph) is many times
cheaper than one ASE run per molecule. The integrator is BAOAB (Leimkuhler and Matthews), each
molecule at its own bath temperature; every ``log_every`` steps each molecule is checked by its
own :class:`~noether.atoms.stability.StabilityMonitor` (bond stretch, closest approach, NaN),
and a molecule that fails is frozen and leaves the batch. Units: Å, eV, fs, K, amu.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from ase import units
from ase.md.velocitydistribution import Stationary, ZeroRotation

from noether.atoms.md import MDResult, show_bar, thermalize
from noether.atoms.stability import StabilityMonitor

__all__ = ["BatchedTrajectory", "langevin_batch"]


@dataclass
class BatchedTrajectory:
    """One molecule's run: the log as :class:`MDResult` and its logged ``positions (K, n, 3)``
    Å (the failing frame, if any, excluded)."""

    result: MDResult
    positions: np.ndarray


def langevin_batch(
    molecules: list,
    potential: torch.nn.Module,
    temperatures: list[float],
    *,
    timestep: float = 0.5,
    steps: int = 1000,
    friction: float = 0.01,
    seed: int = 0,
    log_every: int = 10,
    progress: str | None = None,
    progress_position: int = 0,
) -> list[BatchedTrajectory]:
    """Langevin MD of every ``ase.Atoms`` in ``molecules`` (not changed) at ``temperatures``
    (K, one per molecule) with ``potential`` (a :class:`~noether.atoms.potential.Potential`
    called as ``potential(numbers, positions, batch)``; eval mode recommended).

    ``timestep`` fs, ``friction`` 1/fs. Velocities start from Maxwell-Boltzmann at each
    molecule's temperature (no net momentum or rotation), seeded by ``seed`` and the molecule's
    position in the list. ``progress``: label of a progress bar (steps, molecules still running)
    on stderr, at line ``progress_position`` (for runs in parallel processes), or off a
    terminal of a plain line on stdout at every tenth of the run; None: neither.
    Returns one :class:`BatchedTrajectory` per molecule.
    """
    if len(temperatures) != len(molecules):
        raise ValueError(f"{len(molecules)} molecules but {len(temperatures)} temperatures")
    if not (timestep > 0 and steps >= 1 and log_every >= 1 and friction >= 0):
        raise ValueError("need timestep > 0, steps >= 1, log_every >= 1 and friction >= 0")
    dtype = getattr(potential, "dtype", torch.float64)
    sizes = np.array([len(m) for m in molecules])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    numbers = np.concatenate([m.numbers for m in molecules])
    x = np.concatenate([m.positions for m in molecules]).astype(np.float64)
    masses = np.concatenate([m.get_masses() for m in molecules])[:, None]
    kt = np.repeat(units.kB * np.asarray(temperatures, dtype=np.float64), sizes)[:, None]
    v = []
    for k, m in enumerate(molecules):
        work = m.copy()
        thermalize(work, temperatures[k], np.random.default_rng([seed, k]))
        Stationary(work)
        with np.errstate(invalid="ignore", divide="ignore"):  # linear molecules: 0/0 -> 0
            ZeroRotation(work)
        v.append(work.get_velocities())
    v = np.concatenate(v)
    rng = np.random.default_rng([seed, len(molecules)])
    dt = timestep * units.fs
    c1 = np.exp(-friction / units.fs * dt)
    c2 = np.sqrt(1.0 - c1**2)
    frame_of_atom = np.repeat(np.arange(len(molecules)), sizes)
    monitors, views = [], []
    for m in molecules:
        monitor = StabilityMonitor()
        monitor.start(m)
        monitors.append(monitor)
        views.append(m.copy())
    active = np.ones(len(molecules), bool)
    logs = [{"time": [], "epot": [], "ekin": [], "temp": [], "pos": []} for _ in molecules]
    failure: list[str | None] = [None] * len(molecules)
    failure_time: list[float | None] = [None] * len(molecules)

    def forces(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forces (N, 3) of all atoms (0 for frozen molecules) and energies (G,) (NaN frozen)."""
        atoms = active[frame_of_atom]
        graphs = np.flatnonzero(active)
        batch = np.searchsorted(graphs, frame_of_atom[atoms])
        out = potential(
            torch.as_tensor(numbers[atoms], dtype=torch.long),
            torch.as_tensor(positions[atoms], dtype=dtype),
            torch.as_tensor(batch, dtype=torch.long),
        )
        f = np.zeros_like(positions)
        f[atoms] = out["forces"].detach().double().numpy()
        e = np.full(len(molecules), np.nan)
        e[graphs] = out["energy"].detach().double().numpy()
        return f, e

    def observe(step: int, energies: np.ndarray) -> None:
        for k in np.flatnonzero(active):
            a, b = offsets[k], offsets[k + 1]
            views[k].positions = x[a:b]
            reason = monitors[k].check(views[k], float(energies[k]))
            time_fs = step * timestep
            if reason is not None:
                failure[k], failure_time[k] = reason, time_fs
                active[k] = False
                v[a:b] = 0.0
                continue
            ekin = 0.5 * float((masses[a:b] * v[a:b] ** 2).sum())
            log = logs[k]
            log["time"].append(time_fs)
            log["epot"].append(float(energies[k]))
            log["ekin"].append(ekin)
            log["temp"].append(2.0 * ekin / (3.0 * sizes[k] * units.kB))
            log["pos"].append(x[a:b].copy())

    bar = None
    if progress is not None and show_bar():
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", desc=progress, position=progress_position)
    tenth = 0  # off a terminal: a plain line at every tenth of the run
    f, e = forces(x)
    observe(0, e)
    for step in range(1, steps + 1):
        if not active.any():
            break
        if bar is not None:
            bar.update()
            if step % log_every == 0:
                bar.set_postfix(running=f"{int(active.sum())}/{len(molecules)}", refresh=False)
        elif progress is not None and step * 10 // steps > tenth:
            tenth = step * 10 // steps
            print(
                f"  {progress}: step {step}/{steps} ({100 * step // steps}%), "
                f"t {step * timestep / 1000:.4g} ps, {int(active.sum())}/{len(molecules)} "
                f"molecules running",
                flush=True,
            )
        moving = active[frame_of_atom][:, None]
        v = v + 0.5 * dt * f / masses
        x = np.where(moving, x + 0.5 * dt * v, x)
        noise = rng.standard_normal(v.shape)
        v = np.where(moving, c1 * v + c2 * np.sqrt(kt / masses) * noise, 0.0)
        x = np.where(moving, x + 0.5 * dt * v, x)
        if not np.isfinite(x[moving[:, 0]]).all():
            bad = np.unique(frame_of_atom[~np.isfinite(x).all(axis=1)])
            for k in bad:
                if active[k]:
                    failure[k], failure_time[k] = "non-finite positions", step * timestep
                    active[k] = False
            x = np.where(np.isfinite(x), x, 0.0)
            if not active.any():
                break
        f, e = forces(x)
        v = v + 0.5 * dt * f / masses
        if step % log_every == 0:
            observe(step, e)
    if bar is not None:
        bar.close()
    out = []
    for k in range(len(molecules)):
        log = logs[k]
        result = MDResult(
            time_fs=np.array(log["time"]),
            potential=np.array(log["epot"]),
            kinetic=np.array(log["ekin"]),
            temperature=np.array(log["temp"]),
            n_atoms=int(sizes[k]),
            steps=steps,
            failure=failure[k],
            failure_time_fs=failure_time[k],
            history=monitors[k].history,
            ensemble="langevin",
            target_temperature=float(temperatures[k]),
        )
        positions = np.array(log["pos"]).reshape(-1, sizes[k], 3)
        out.append(BatchedTrajectory(result, positions))
    return out
