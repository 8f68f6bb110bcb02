import math

import pytest
import torch

from noether.lattice.statistics import (
    autocorrelation_window,
    integrated_autocorrelation_time,
    mean_and_error,
)


def ar1(rho: float, chains: int, n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(chains, n, generator=generator, dtype=torch.float64)
    x = torch.empty_like(noise)
    x[:, 0] = noise[:, 0] / math.sqrt(1 - rho**2)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.8])
def test_tau_of_an_ar1_process(rho):
    tau = integrated_autocorrelation_time(ar1(rho, 16, 4000))
    assert tau == pytest.approx((1 + rho) / (1 - rho), rel=0.1)


def test_error_bar_covers_the_true_mean_with_the_right_frequency():
    hits = 0
    for seed in range(40):
        mean, error = mean_and_error(ar1(0.7, 4, 500, seed))
        hits += abs(mean) < 2 * error
    assert 33 <= hits <= 40  # about 95 % of 2-sigma intervals contain 0


def test_constant_series_has_no_tau():
    assert math.isnan(integrated_autocorrelation_time(torch.ones(2, 10)))
    assert mean_and_error(torch.ones(2, 10)) == (1.0, 0.0)


def test_window_is_reported_when_the_run_is_too_short():
    tau, reached = autocorrelation_window(ar1(0.5, 16, 4000))
    assert reached and tau == pytest.approx(3.0, rel=0.1)
    tau, reached = autocorrelation_window(ar1(0.98, 4, 60))  # tau about 99 steps: run < 5 tau
    assert not reached and tau > 12  # 60 steps cannot reach the window W >= 5 tau
    assert autocorrelation_window(torch.ones(2, 10))[1] is False
