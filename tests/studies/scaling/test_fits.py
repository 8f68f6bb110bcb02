"""The fits recover known power laws from synthetic runs, within their bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from noether.studies.scaling.fits import (
    compute_optimal,
    fit_compute_law,
    fit_cost,
    fit_data_law,
    fit_joint_law,
    frontier,
    joint_loss,
)

TRUE = np.array([0.05, 40.0, 0.45, 300.0, 0.6])  # E, A, alpha, B, beta


def _joint_runs(noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    n, d = np.meshgrid(np.geomspace(1e3, 1e6, 5), np.geomspace(1e3, 1e6, 5))
    n, d = n.ravel(), d.ravel()
    loss = joint_loss(TRUE, n, d) * np.exp(noise * rng.standard_normal(n.size))
    return n, d, loss


@pytest.fixture(scope="module")
def joint():
    n, d, loss = _joint_runs()
    return fit_joint_law(n, d, loss, n_boot=150, seed=1)


def test_joint_law_recovers_its_exponents(joint):
    for i, key in enumerate(("E", "A", "alpha", "B", "beta")):
        assert joint[key]["low"] <= TRUE[i] <= joint[key]["high"], (key, joint[key])
    assert abs(joint["alpha"]["value"] - 0.45) < 0.05
    assert abs(joint["beta"]["value"] - 0.6) < 0.05
    assert joint["rms_log_residual"] < 0.02


def test_compute_optimal_allocation_matches_the_closed_form(joint):
    """With c(N) = k N, the optimum is N* ~ C^(beta / (alpha + beta)), D* ~ C^(alpha / (alpha + beta))."""
    k = 6.0
    budgets = np.geomspace(1e10, 1e14, 5)
    result = compute_optimal(joint, (k, 1.0), budgets, batch=32)
    alpha, beta = TRUE[2], TRUE[4]
    assert result["a"]["low"] <= beta / (alpha + beta) <= result["a"]["high"]
    assert result["b"]["low"] <= alpha / (alpha + beta) <= result["b"]["high"]
    # the closed form N* = G (C / k)^a, G = (alpha A / (beta B))^(1 / (alpha + beta))
    _, big_a, _, big_b, _ = TRUE
    g = (alpha * big_a / (beta * big_b)) ** (1 / (alpha + beta))
    expected = g * (budgets / k) ** (beta / (alpha + beta))
    found = np.array([p["value"] for p in result["params"]])
    exact = compute_optimal(
        {**{key: {"value": v} for key, v in zip(("E", "A", "alpha", "B", "beta"), TRUE)}},
        (k, 1.0),
        budgets,
        batch=32,
    )
    np.testing.assert_allclose([p["value"] for p in exact["params"]], expected, rtol=1e-4)
    steps = np.array([s["value"] for s in exact["steps"]])
    exact_n = np.array([p["value"] for p in exact["params"]])
    np.testing.assert_allclose(steps * 32 * k * exact_n, budgets, rtol=1e-10)  # C = c(N) D
    assert np.all(np.abs(np.log(found / expected)) < 1.0)


def test_compute_law_on_the_frontier_recovers_the_exponent():
    """Runs of several sizes per budget; only the best ones lie on the known law."""
    rng = np.random.default_rng(3)
    compute, loss = [], []
    for c in np.geomspace(1e12, 1e17, 8):
        for penalty in (1.0, 1.3, 1.8):  # off-optimal sizes lose a factor
            compute.append(c * rng.uniform(0.9, 1.1))
            loss.append(2e3 * compute[-1] ** -0.3 * penalty * np.exp(0.02 * rng.standard_normal()))
    result = fit_compute_law(np.array(compute), np.array(loss), n_boot=300)
    assert result["alpha"]["low"] <= 0.3 <= result["alpha"]["high"], result["alpha"]
    assert abs(result["alpha"]["value"] - 0.3) < 0.03
    assert len(result["frontier"]) >= 6


def test_data_law_recovers_the_exponent():
    rng = np.random.default_rng(4)
    d = np.repeat(np.geomspace(50, 5000, 5), 2)
    loss = 3.0 * d**-0.7 * np.exp(0.03 * rng.standard_normal(d.size))
    result = fit_data_law(d, loss, n_boot=300)
    assert result["alpha"]["low"] <= 0.7 <= result["alpha"]["high"]


def test_a_wrong_law_is_not_inside_the_interval(joint):
    """The intervals are informative: exponents off by 0.2 are excluded."""
    assert not joint["alpha"]["low"] <= 0.65 <= joint["alpha"]["high"]
    assert not joint["beta"]["low"] <= 0.4 <= joint["beta"]["high"]


def test_frontier_and_cost():
    compute = np.array([1.0, 2.0, 3.0, 4.0])
    loss = np.array([5.0, 6.0, 4.0, 4.5])
    assert frontier(compute, loss).tolist() == [0, 2]
    k, gamma = fit_cost(np.array([10.0, 100.0, 1000.0]), 6 * np.array([10.0, 100.0, 1000.0]) ** 1.1)
    assert k == pytest.approx(6.0) and gamma == pytest.approx(1.1)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="finite and positive"):
        fit_data_law(np.array([1.0, 2.0]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="two model sizes"):
        fit_joint_law(np.ones(4), np.arange(1.0, 5.0), np.ones(4))
