"""MD through ASE with the reference potential: NVE conserves energy, Langevin thermalises."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.md import run_md
from noether.atoms.plots import plot_md
from noether.atoms.reference import LennardJones, Morse
from noether.atoms.stability import StabilityMonitor, energy_drift


def argon():
    return bulk("Ar", "fcc", a=5.26, cubic=True).repeat((2, 2, 2))


def lj_argon(dtype=torch.float64):
    return NoetherCalculator(LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0, dtype=dtype))


def test_nve_energy_drift_is_small(tmp_path):
    atoms = argon()
    result = run_md(
        atoms,
        lj_argon(),
        ensemble="nve",
        timestep=5.0,
        steps=400,
        temperature=60,
        log_every=5,
        trajectory=tmp_path / "traj.xyz",
    )
    assert result.stable and len(result.time_fs) == 81
    assert abs(result.drift) < 0.05  # meV/atom/ps over 2 ps
    assert result.fluctuation < 0.01  # meV/atom
    assert result.temperature.mean() > 10  # it did move
    plot_md(result, tmp_path / "md.png")
    assert (tmp_path / "md.png").stat().st_size > 1000
    from ase.io import read

    assert len(read(tmp_path / "traj.xyz", ":")) == 81


def test_too_long_a_timestep_is_caught():
    # H2 vibrates with a period of about 8 fs: velocity Verlet at 0.2 fs conserves energy, at
    # 4 fs it does not (the drift or the monitor must say so).
    calc = NoetherCalculator(Morse(epsilon=4.5, r0=0.74, rho0=1.5, dtype=torch.float64))
    fine, coarse = (
        run_md(
            Atoms("H2", positions=[[0, 0, 0], [0.8, 0, 0]]),
            calc,
            timestep=dt,
            steps=steps,
            temperature=0,
            log_every=5,
            initialize_velocities=False,
        )
        for dt, steps in ((0.2, 500), (4.0, 25))
    )
    assert fine.stable and abs(fine.drift) < 1.0 and fine.fluctuation < 1.0
    assert not coarse.stable or abs(coarse.drift) > 100 * abs(fine.drift)


def test_langevin_reaches_the_bath_temperature_and_is_seeded():
    runs = []
    for _ in range(2):
        atoms = argon()
        runs.append(
            run_md(
                atoms,
                lj_argon(),
                ensemble="langevin",
                timestep=5.0,
                steps=160,
                temperature=40,
                friction=0.05,
                seed=7,
                log_every=8,
            )
        )
    assert np.array_equal(runs[0].potential, runs[1].potential)
    assert 20 < runs[0].temperature[5:].mean() < 60


def test_monitor_stops_an_exploding_molecule():
    # A Morse dimer started far inside the wall flies apart: the bond breaks.
    atoms = Atoms("H2", positions=[[0, 0, 0], [0.3, 0, 0]])
    calc = NoetherCalculator(Morse(epsilon=4.5, r0=0.74, rho0=1.5, dtype=torch.float64))
    monitor = StabilityMonitor(max_bond_stretch=0.5, min_distance=0.2)
    monitor.start(Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]]))
    result = run_md(
        atoms,
        calc,
        steps=400,
        timestep=0.5,
        temperature=0,
        log_every=2,
        monitor=monitor,
        initialize_velocities=False,
    )
    assert not result.stable and "bond 0-1 changed by" in result.failure
    assert result.steps < 400


def test_monitor_flags_close_contacts_and_nan():
    monitor = StabilityMonitor(min_distance=0.5)
    atoms = Atoms("H3", positions=[[0, 0, 0], [0.74, 0, 0], [3, 0, 0]])
    monitor.start(atoms)
    atoms.positions[2] = [0.3, 0.1, 0]
    assert "two atoms at 0.32 Å" in monitor.check(atoms)
    atoms.positions[2, 0] = np.nan
    assert "non-finite positions (atom 2)" in monitor.check(atoms)


def test_energy_drift_units():
    t = np.arange(0, 2001, 100.0)  # fs
    e = 0.002 * t / 1000.0  # 2 meV per ps in total
    assert energy_drift(t, e, n_atoms=4) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least two"):
        energy_drift([0.0], [1.0], 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown ensemble 'npt'"):
        run_md(argon(), lj_argon(), ensemble="npt")
    with pytest.raises(ValueError, match="atoms have no calculator"):
        run_md(argon())


def test_time_limit_stops_cleanly_and_keeps_the_log(tmp_path):
    full = run_md(argon(), lj_argon(), steps=40, temperature=60, log_every=5)
    assert not full.time_limited and full.steps == 40
    stopped = run_md(
        argon(),
        lj_argon(),
        steps=40,
        temperature=60,
        log_every=5,
        time_limit=0.0,
        trajectory=tmp_path / "traj.xyz",
    )
    # the first logged frame (step 0) is already past a zero budget: stop there, no failure
    assert stopped.time_limited and stopped.stable and stopped.steps == 0
    assert len(stopped.time_fs) == 1 and (tmp_path / "traj.xyz").exists()
