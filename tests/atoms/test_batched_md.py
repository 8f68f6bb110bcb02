import numpy as np
import pytest
from ase import Atoms
from ase.cluster import Icosahedron

from noether.atoms.batched_md import langevin_batch
from noether.atoms.reference import LennardJones

ARGON = LennardJones(sigma=3.4, epsilon=0.0104, rc=8.0, dtype="float64").eval()


def _cluster(shift: float) -> Atoms:
    atoms = Icosahedron("Ar", 2, latticeconstant=5.26)  # 13 atoms
    atoms.positions += shift
    return atoms


def test_each_molecule_reaches_its_own_bath_temperature():
    clusters = [_cluster(100.0 * k) for k in range(4)]
    runs = langevin_batch(
        clusters,
        ARGON,
        [20.0, 20.0, 40.0, 40.0],
        timestep=5.0,
        steps=600,
        friction=0.1,
        log_every=5,
    )
    assert all(r.result.stable for r in runs)
    cold = np.mean([r.result.temperature[40:].mean() for r in runs[:2]])
    hot = np.mean([r.result.temperature[40:].mean() for r in runs[2:]])
    assert cold == pytest.approx(20.0, rel=0.15)
    assert hot == pytest.approx(40.0, rel=0.15)
    assert runs[0].positions.shape == (121, 13, 3)
    np.testing.assert_array_equal(runs[0].positions[0], clusters[0].positions)


def test_without_friction_it_conserves_energy():
    runs = langevin_batch([_cluster(0.0)], ARGON, [30.0], timestep=2.0, steps=300, friction=0.0)
    total = runs[0].result.total
    assert np.ptp(total) < 2e-3 * np.abs(runs[0].result.kinetic).mean() + 1e-5
    assert runs[0].result.kinetic.std() > 0  # it moved


def test_a_failing_molecule_is_frozen_and_the_others_go_on():
    squeezed = Atoms("Ar2", positions=[[0, 0, 0], [0.3, 0, 0]])
    runs = langevin_batch(
        [_cluster(0.0), squeezed.copy()], ARGON, [20.0, 20.0], timestep=5.0, steps=40
    )
    assert runs[0].result.stable and runs[0].result.time_fs[-1] == 200.0
    assert not runs[1].result.stable and "two atoms at 0.30" in runs[1].result.failure
    assert runs[1].result.failure_time_fs == 0.0 and runs[1].positions.shape[0] == 0
    with pytest.raises(ValueError, match="2 molecules but 1 temperatures"):
        langevin_batch([squeezed, squeezed], ARGON, [20.0])


def test_progress_off_a_terminal_counts_steps_and_running_molecules_in_plain_lines(capsys):
    # Not a terminal (pytest captures both streams): no bar, one plain line per tenth of the run
    squeezed = Atoms("Ar2", positions=[[0, 0, 0], [0.3, 0, 0]])
    runs = langevin_batch(
        [_cluster(0.0), squeezed], ARGON, [20.0, 30.0], steps=20, log_every=5, progress="MD argon"
    )
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == 10
    assert out.splitlines()[-1] == "  MD argon: step 20/20 (100%), t 0.01 ps, 1/2 molecules running"
    assert runs[1].result.ensemble == "langevin" and runs[1].result.target_temperature == 30.0
    langevin_batch([_cluster(0.0)], ARGON, [20.0], steps=5)
    assert capsys.readouterr() == ("", "")
