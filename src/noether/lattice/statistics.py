"""Markov-chain statistics: integrated autocorrelation times and error bars.

Convention: ``tau_int = 1 + 2 sum_{t>=1} rho(t)``, so independent samples have ``tau_int = 1`` and a
chain of ``n`` steps holds ``n / tau_int`` effective samples. The sum is cut by Sokal's automatic
window (the first ``W`` with ``W >= c tau_int(W)``, ``c = 5``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def autocorrelation(series: Tensor) -> Tensor:
    """Normalised autocorrelation ``rho(t)`` ``(n,)`` of ``series`` ``(chains, n)``, averaged over
    chains, about the mean of all chains (by FFT)."""
    x = series.double() - series.double().mean()
    n = x.shape[-1]
    size = 1 << (2 * n - 1).bit_length()
    f = torch.fft.rfft(x, n=size)
    acf = torch.fft.irfft(f * f.conj(), n=size)[..., :n].mean(0)
    acf = acf / torch.arange(n, 0, -1, dtype=acf.dtype)
    return acf / acf[0] if acf[0] > 0 else torch.ones_like(acf)


def autocorrelation_window(series: Tensor, c: float = 5.0) -> tuple[float, bool]:
    """``(tau_int, reached)`` of ``series`` ``(chains, n)`` (or ``(n,)``), in steps.

    ``reached`` says whether Sokal's window ``W >= c tau_int(W)`` was found within the run. When it
    was not (a run shorter than about ``c tau_int`` steps), ``tau_int`` is the sum over the whole
    run: a rough estimate, not a bound. A constant series gives ``(nan, False)``.
    """
    if series.dim() == 1:
        series = series[None]
    if series.shape[-1] < 2:
        raise ValueError(f"need at least 2 steps per chain, got {series.shape[-1]}")
    rho = autocorrelation(series)
    if rho[0] == 1 and torch.all(series == series.flatten()[0]):
        return float("nan"), False  # a constant series has no autocorrelation time
    tau = 2 * torch.cumsum(rho, 0) - 1
    window = torch.arange(len(tau), dtype=tau.dtype)
    ok = window >= c * tau
    reached = bool(ok.any())
    w = int(torch.nonzero(ok)[0]) if reached else len(tau) - 1
    return max(float(tau[w]), 1e-12), reached


def integrated_autocorrelation_time(series: Tensor, c: float = 5.0) -> float:
    """``tau_int`` of ``series`` ``(chains, n)`` (or ``(n,)``) in steps, windowed (Sokal); see
    :func:`autocorrelation_window` for whether the window was reached."""
    return autocorrelation_window(series, c)[0]


def mean_and_error(series: Tensor, tau: float | None = None) -> tuple[float, float]:
    """Mean of ``series`` ``(chains, n)`` and its standard error ``sqrt(var * tau / (chains n))``."""
    if series.dim() == 1:
        series = series[None]
    if tau is None or math.isnan(tau):
        tau = integrated_autocorrelation_time(series) if series.shape[-1] > 1 else 1.0
    tau = 1.0 if math.isnan(tau) else max(tau, 1.0)
    var = series.double().var().item() if series.numel() > 1 else 0.0
    return series.double().mean().item(), math.sqrt(var * tau / series.numel())
