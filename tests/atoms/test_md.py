"""MD through ASE with the reference potential: NVE conserves energy, Langevin thermalises."""

import re

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.io import write as ase_write

from noether.atoms.calculator import NoetherCalculator
from noether.atoms.dataset import AtomsDataset
from noether.atoms.export import export_potential
from noether.atoms.formats import write_dataset, write_rmd17
from noether.atoms.md import read_structure, run_md
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


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"temperature": -300.0}, "temperature must be a finite number >= 0 K; got -300.0"),
        ({"temperature": float("nan")}, "temperature must be a finite number >= 0 K; got nan"),
        ({"friction": -1.0}, "friction must be a finite number >= 0 1/fs; got -1.0"),
        ({"timestep": float("inf")}, "timestep must be a finite number > 0 fs; got inf"),
        ({"steps": 0}, "steps must be an integer >= 1; got 0"),
        ({"log_every": 0}, "log_every must be an integer >= 1; got 0"),
    ],
)
def test_settings_out_of_range_are_refused_before_any_step(setting, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run_md(argon(), lj_argon(), ensemble="langevin", **setting)


def test_an_error_of_the_calculator_at_step_0_is_raised_as_it_is(tmp_path):
    # A model exported for molecules refuses a periodic frame with its own clear message; that
    # message is the caller's to see, not a "failure at 0 fs" with nothing logged.
    export_potential(LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0), tmp_path / "lj.pt2")
    with pytest.raises(ValueError, match="exported for molecular frames but got pbc="):
        run_md(argon(), NoetherCalculator(tmp_path / "lj.pt2"), trajectory=tmp_path / "t.xyz")
    assert not (tmp_path / "t.xyz").exists()


def test_non_finite_starting_positions_are_named():
    atoms = argon()
    atoms.positions[3, 1] = np.nan
    with pytest.raises(ValueError, match="the starting structure, atom 3: positions contains nan"):
        run_md(atoms, lj_argon())


def test_progress_off_a_terminal_is_plain_lines_with_units(capsys):
    run_md(argon(), lj_argon(), steps=40, temperature=60, log_every=4, progress=True)
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if "step " in line]
    assert len(lines) == 10 and "\r" not in out + err and "|" not in err
    assert re.fullmatch(
        r"  step 40/40 \(100%\): t 0\.02 ps, T [\d.]+ K, E_tot -?[\d.e+-]+ eV, [\d.]+ ms/step",
        lines[-1],
    )


def test_langevin_result_knows_its_ensemble_and_bath():
    result = run_md(argon(), lj_argon(), ensemble="langevin", steps=20, temperature=40)
    assert result.ensemble == "langevin" and result.target_temperature == 40.0
    assert not result.conserves_energy
    assert run_md(argon(), lj_argon(), steps=20).conserves_energy


def _argon_frames() -> AtomsDataset:
    frames = [argon() for _ in range(3)]
    for k, atoms in enumerate(frames):
        atoms.rattle(0.05, seed=k)
    return AtomsDataset(
        numbers=np.concatenate([a.numbers for a in frames]),
        positions=np.concatenate([a.positions for a in frames]),
        offsets=np.arange(4) * len(frames[0]),
        energy=np.zeros(3),
        forces=np.zeros((3 * len(frames[0]), 3)),
        cell=np.stack([a.cell[:] for a in frames]),
        pbc=np.ones((3, 3), bool),
    )


@pytest.mark.parametrize("name", ["frames.xyz", "frames.extxyz", "frames.h5", "frames.npz"])
def test_read_structure_takes_every_format_noether_reads_and_a_frame(tmp_path, name):
    ds = _argon_frames()
    if name.endswith(".npz"):  # sGDML and rMD17 hold molecules: no cell
        ds = AtomsDataset.from_arrays(
            ds.numbers[:32], ds.positions.reshape(3, 32, 3), ds.energy, ds.forces.reshape(3, 32, 3)
        )
    write_dataset(tmp_path / name, ds)
    atol = 1e-7 if "xyz" in name else 0.0  # a text file holds 8 significant digits
    for frame in (0, 2, -1):
        atoms = read_structure(tmp_path / name, frame=frame)
        expected = ds.to_atoms(frame % 3)
        np.testing.assert_allclose(atoms.positions, expected.positions, rtol=0, atol=atol)
        assert (atoms.numbers == expected.numbers).all() and (atoms.pbc == expected.pbc).all()
    if name.endswith(".npz"):
        write_rmd17(tmp_path / "rmd17.npz", ds)
        atoms = read_structure(tmp_path / "rmd17.npz", frame=1)
        np.testing.assert_allclose(atoms.positions, ds.to_atoms(1).positions, rtol=0, atol=0)
    with pytest.raises(ValueError, match=rf"{name}: frame 3 does not exist; the file holds 3"):
        read_structure(tmp_path / name, frame=3)


def test_read_structure_names_file_and_frame_of_bad_data(tmp_path):
    frames = [argon(), argon()]
    frames[1].positions[4, 0] = np.nan
    ase_write(tmp_path / "bad.traj", frames)  # ASE's path (no noether reader)
    ase_write(tmp_path / "bad.xyz", frames)  # noether's extxyz reader
    with pytest.raises(ValueError, match=r"bad.xyz: frame 1, atom 4: positions contains nan"):
        read_structure(tmp_path / "bad.xyz", frame=0)
    with pytest.raises(ValueError, match=r"bad.traj: frame 1, atom 4: positions contains nan"):
        read_structure(tmp_path / "bad.traj", frame=1)
    assert len(read_structure(tmp_path / "bad.traj", frame=0)) == 32
    with pytest.raises(FileNotFoundError, match=r"none.xyz: no such file"):
        read_structure(tmp_path / "none.xyz")
    (tmp_path / "junk.data").write_text("not a structure\n")
    with pytest.raises(ValueError, match=r"junk.data: not readable as a structure"):
        read_structure(tmp_path / "junk.data")


def test_plot_of_a_one_frame_run_and_of_a_langevin_run(tmp_path):
    # one logged frame (stopped at once) has no drift to show; a Langevin run shows its bath
    one = run_md(argon(), lj_argon(), steps=20, temperature=60, log_every=5, time_limit=0.0)
    assert len(one.time_fs) == 1
    plot_md(one, tmp_path / "one.png")
    bath = run_md(argon(), lj_argon(), ensemble="langevin", steps=20, temperature=60, log_every=5)
    plot_md(bath, tmp_path / "bath.png")
    assert (tmp_path / "one.png").stat().st_size > 1000
    assert (tmp_path / "bath.png").stat().st_size > 1000


def test_settings_accept_numpy_scalars():
    result = run_md(argon(), lj_argon(), steps=np.int64(10), temperature=np.float32(40.0))
    assert result.steps == 10 and result.target_temperature == 40.0
    assert StabilityMonitor(min_distance=np.float32(0.4)).min_distance == np.float32(0.4)
