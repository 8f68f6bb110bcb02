import numpy as np
import pytest

from noether.sims.nbody import gravity
from noether.sims.nbody.simulator import (
    NBodyConfig,
    accept,
    random_rotations,
    sample_initial_conditions,
    simulate,
)

# max_level 4 bounds the test time: the rare close encounters that need finer steps are rejected.
FAST = NBodyConfig(max_level=4)


def test_initial_conditions_follow_the_paper_setup():
    rng = np.random.default_rng(0)
    m, x, v = sample_initial_conditions(rng, 400, FAST)
    assert m.shape == (400, 4) and x.shape == v.shape == (400, 4, 3)
    star = np.argmax(m, axis=1)
    assert not np.all(star == 0)  # bodies are permuted
    rows = np.arange(400)
    assert np.all((m[rows, star] >= 1.0) & (m[rows, star] <= 10.0))
    planets = np.ones_like(m, dtype=bool)
    planets[rows, star] = False
    assert np.all((m[planets] >= 0.01) & (m[planets] <= 0.1))
    assert np.all(x[rows, star] == 0) and np.all(v[rows, star] == 0)
    r = np.linalg.norm(x[planets], axis=-1)
    assert r.min() >= 0.1 and r.max() <= 1.0
    assert np.all(x[planets][:, 2] == 0)  # canonical placement: orbits in the x-y plane
    # Speeds are circular-orbit speeds sqrt(M / r) up to the velocity noise (scale 0.01).
    speed = np.linalg.norm(v, axis=-1)
    circular = np.sqrt(m[rows, star][:, None] / np.maximum(np.linalg.norm(x, axis=-1), 1e-300))
    assert np.abs(speed - circular)[planets.reshape(400, 4)].max() < 0.06


def test_random_placement_rotates_and_shifts():
    m, x, _ = sample_initial_conditions(
        np.random.default_rng(0), 200, NBodyConfig(placement="random")
    )
    star = x[np.arange(200), np.argmax(m, axis=1)]
    assert 10 < np.std(star) < 30  # shift_std 20
    assert np.abs(x[..., 2]).max() > 1  # no longer in the x-y plane


def test_random_rotations_are_proper_orthogonal():
    r = random_rotations(np.random.default_rng(0), 50)
    np.testing.assert_allclose(
        r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-14
    )
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-14)


def test_adaptive_simulation_meets_its_tolerance():
    m, x, v = sample_initial_conditions(np.random.default_rng(1), 60, FAST)
    sim = simulate(m, x, v, FAST)
    ok = sim.converged
    assert ok.mean() > 0.9
    reference, _ = gravity.integrate(
        x[ok], v[ok], m[ok], FAST.time, 4 * int(sim.n_steps.max()), softening=FAST.softening
    )
    assert np.abs(reference - sim.x_final[ok]).max(axis=(1, 2)).max() < 10 * FAST.tolerance
    assert sim.energy_error[ok].max() < 1e-7
    assert np.all(accept(sim, x, FAST) <= ok)


def test_given_step_counts_reproduce_the_adaptive_result_and_batching_does_not_matter():
    m, x, v = sample_initial_conditions(np.random.default_rng(2), 30, FAST)
    sim = simulate(m, x, v, FAST)
    again = simulate(m, x, v, FAST, n_steps=sim.n_steps)
    assert np.array_equal(again.x_final, sim.x_final)
    single = simulate(m[:1], x[:1], v[:1], FAST, n_steps=sim.n_steps[:1])
    assert np.array_equal(single.x_final[0], sim.x_final[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_planets": 0}, "n_planets must be >= 1"),
        ({"planet_mass_range": (-1.0, 0.1)}, "masses are positive"),
        ({"star_mass_range": (1.0, float("nan"))}, "star_mass_range must be finite"),
        ({"time": 0.0}, "time must be > 0"),
        ({"placement": "sideways"}, "placement must be one of"),
        ({"softening": -1.0}, "softening must be >= 0"),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NBodyConfig(**kwargs)


def test_bad_states_are_refused():
    m, x, v = sample_initial_conditions(np.random.default_rng(0), 3, FAST)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="positions contain non-finite"):
        simulate(m, bad, v, FAST)
    with pytest.raises(ValueError, match="masses must be positive"):
        simulate(-m, x, v, FAST)
    with pytest.raises(ValueError, match="must have shape"):
        simulate(m, x[:, :2], v, FAST)
