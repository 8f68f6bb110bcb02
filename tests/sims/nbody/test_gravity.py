import numpy as np
import pytest
import torch

from noether.sims.nbody import gravity
from noether.testing import check_e3, check_permutation


def _systems(seed=0, s=5, n=4):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, (s, n)), rng.normal(size=(s, n, 3)), rng.normal(size=(s, n, 3))


def test_accelerations_are_minus_the_gradient_of_the_potential_over_mass():
    m, x, _ = _systems()
    eps = 0.05
    a = gravity.accelerations(x, m, eps)
    h = 1e-6
    grad = np.zeros_like(x)
    for b in range(x.shape[1]):
        for k in range(3):
            xp, xm = x.copy(), x.copy()
            xp[:, b, k] += h
            xm[:, b, k] -= h
            grad[:, b, k] = (
                gravity.potential_energy(xp, m, eps) - gravity.potential_energy(xm, m, eps)
            ) / (2 * h)
    np.testing.assert_allclose(a, -grad / m[..., None], rtol=1e-7, atol=1e-8)


def test_two_body_force_is_newtons_law():
    m = np.array([[2.0, 3.0]])
    x = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]])
    a = gravity.accelerations(x, m)
    np.testing.assert_allclose(a[0, 0], [0, 0, 3.0 / 4.0], rtol=1e-15)
    np.testing.assert_allclose(a[0, 1], [0, 0, -2.0 / 4.0], rtol=1e-15)


@pytest.mark.parametrize("n", [2, 4, 6])
def test_few_and_many_systems_give_bitwise_identical_forces(n):
    m, x, _ = _systems(1, s=600, n=n)
    whole = gravity.accelerations(x, m, 1e-3)  # pair-loop path
    parts = np.concatenate(
        [gravity.accelerations(x[i : i + 50], m[i : i + 50], 1e-3) for i in range(0, 600, 50)]
    )
    assert np.array_equal(whole, parts)


def _circular_binary(scheme, n_steps, time):
    """Equal masses 1 at distance 1 on a circular orbit: angular frequency sqrt(2)."""
    m = np.ones((1, 2))
    x = np.array([[[-0.5, 0, 0], [0.5, 0, 0]]])
    speed = np.sqrt(0.5)  # v^2 / 0.5 = 1 / 1^2  ->  v = sqrt(1/2)
    v = np.array([[[0, -speed, 0], [0, speed, 0]]])
    xf, _ = gravity.integrate(x, v, m, time, n_steps, scheme=scheme)
    w = np.sqrt(2.0) * time
    exact = 0.5 * np.array([np.cos(w), np.sin(w), 0.0])
    return np.abs(xf[0, 1] - exact).max()


@pytest.mark.parametrize(("scheme", "order"), [("leapfrog", 2), ("yoshida4", 4)])
def test_schemes_converge_at_their_order_on_a_circular_orbit(scheme, order):
    coarse = _circular_binary(scheme, 100, 3.0)
    fine = _circular_binary(scheme, 200, 3.0)
    assert abs(np.log2(coarse / fine) - order) < 0.2


def test_momentum_exact_and_energy_conserved():
    m, x, v = _systems(2, s=8)
    x *= 2.0
    xf, vf = gravity.integrate(x, v, m, 1.0, 2000, softening=0.05)
    p0, p1 = gravity.momentum(v, m), gravity.momentum(vf, m)
    assert np.abs(p1 - p0).max() < 1e-13
    l0, l1 = gravity.angular_momentum(x, v, m), gravity.angular_momentum(xf, vf, m)
    assert np.abs(l1 - l0).max() < 1e-11
    e0, e1 = gravity.energy(x, v, m, 0.05), gravity.energy(xf, vf, m, 0.05)
    assert np.abs((e1 - e0) / e0).max() < 1e-8


def test_unknown_scheme_and_bad_step_count_are_refused():
    m, x, v = _systems()
    with pytest.raises(ValueError, match="unknown scheme 'rk4'"):
        gravity.integrate(x, v, m, 1.0, 10, scheme="rk4")
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        gravity.integrate(x, v, m, 1.0, 0)


def _flow(m, x, v):
    xf, vf = gravity.integrate(x.numpy(), v.numpy(), m.numpy(), 0.3, 300, softening=0.01)
    return torch.from_numpy(np.ascontiguousarray(xf)), torch.from_numpy(np.ascontiguousarray(vf))


def test_integrator_is_e3_and_permutation_equivariant():
    m, x, v = (torch.from_numpy(a) for a in _systems(3, s=3))
    # Systems are a batch: the group acts on each (the last axis of x and v holds coordinates).
    err = check_e3(_flow, (m, x, v), ("scalar", "position", "vector"), ("position", "vector"))
    assert err < 1e-10
    err = check_permutation(_flow, (m, x, v), (1, 1, 1), (1, 1))
    assert err < 1e-12
