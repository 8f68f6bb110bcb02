"""Power-law fits with bootstrap intervals, and the compute-optimal allocation they imply.

Three laws, each fitted by least squares on the logarithm of the loss (SciPy) and given with
percentile bootstrap intervals (resampling the runs with replacement and refitting):

- :func:`fit_compute_law`: ``L(C) = a C^-alpha`` on the compute frontier of a family (the runs
  with a lower loss than every cheaper run), as in Kaplan et al. and in Fig. 1 of Brehmer et al.;
- :func:`fit_data_law`: ``L(D) = a D^-alpha`` across training-set sizes;
- :func:`fit_joint_law`: ``L(N, D) = E + A N^-alpha + B D^-beta`` in parameters ``N`` and training
  samples seen ``D`` (Hoffmann et al., "Chinchilla", approach 3).

:func:`compute_optimal` minimises the joint law at fixed compute ``C = c(N) D``, with the measured
cost per training sample ``c(N) = k N^gamma`` of the family (:func:`fit_cost`), giving the
compute-optimal model size ``N*(C)`` and samples ``D*(C)`` (steps ``D* / batch``), and their
exponents ``N* ~ C^a``, ``D* ~ C^b``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize

__all__ = [
    "Interval",
    "compute_optimal",
    "fit_compute_law",
    "fit_cost",
    "fit_data_law",
    "fit_joint_law",
    "frontier",
    "joint_loss",
    "law_band",
    "power_law",
]

LEVEL = 0.95
"""Coverage of the bootstrap intervals."""


@dataclass(frozen=True)
class Interval:
    """A fitted value and its bootstrap interval ``[low, high]`` (``LEVEL`` coverage)."""

    value: float
    low: float
    high: float

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def to_dict(self) -> dict:
        return asdict(self)


def _interval(value: float, samples: np.ndarray) -> Interval:
    samples = samples[np.isfinite(samples)]
    if len(samples) < 2:
        return Interval(float(value), float("nan"), float("nan"))
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(value), float(low), float(high))


def _check(name: str, *arrays: np.ndarray) -> None:
    n = len(arrays[0])
    for a in arrays:
        if len(a) != n:
            raise ValueError(f"{name}: arrays of different lengths {[len(b) for b in arrays]}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"{name}: values must be finite and positive, got {a}")


def power_law(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(a, alpha)`` of ``y = a x^-alpha`` by least squares in log-log space."""
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(intercept)), float(-slope)


def frontier(compute: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the runs with a lower loss than every run of less compute, by compute."""
    order = np.argsort(compute, kind="stable")
    keep, best = [], np.inf
    for i in order:
        if loss[i] < best:
            keep.append(i)
            best = loss[i]
    return np.array(keep, dtype=int)


def _bootstrap(
    n: int, n_boot: int, seed: int, fit: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        try:
            out.append(fit(rng.integers(0, n, n)))
        except (ValueError, np.linalg.LinAlgError, RuntimeError):
            continue
    return np.array(out)


def fit_compute_law(
    compute: np.ndarray, loss: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict:
    """``L = a C^-alpha`` on the compute frontier, with bootstrap intervals.

    Returns ``{"a", "alpha": Interval dicts, "frontier": indices, "n_runs"}``; ``a`` in the units of
    the loss at ``C = 1`` FLOP.
    """
    compute, loss = np.asarray(compute, float), np.asarray(loss, float)
    _check("fit_compute_law", compute, loss)

    def fit(idx: np.ndarray) -> np.ndarray:
        c, l = compute[idx], loss[idx]
        front = frontier(c, l)
        if len(np.unique(c[front])) < 2:
            raise ValueError("a frontier of fewer than two budgets")
        return np.array(power_law(c[front], l[front]))

    best = fit(np.arange(len(loss)))
    boot = _bootstrap(len(loss), n_boot, seed, fit)
    return {
        "law": "L = a * C^-alpha (C in FLOPs) on the compute frontier",
        "a": _interval(best[0], boot[:, 0] if len(boot) else np.array([])).to_dict(),
        "alpha": _interval(best[1], boot[:, 1] if len(boot) else np.array([])).to_dict(),
        "frontier": frontier(compute, loss).tolist(),
        "n_runs": len(loss),
        "n_boot": len(boot),
        "draws": boot.tolist(),
    }


def law_band(fit: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, low, high)`` of a fitted ``a x^-alpha`` law at ``x``, the band from the
    bootstrap draws (pointwise percentiles)."""
    x = np.asarray(x, float)
    value = fit["a"]["value"] * x ** -fit["alpha"]["value"]
    draws = np.asarray(fit.get("draws", []), float).reshape(-1, 2)
    if not len(draws):
        return value, value, value
    curves = draws[:, :1] * x[None, :] ** -draws[:, 1:]
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(curves, [tail, 100 - tail], axis=0)
    return value, low, high


def fit_data_law(
    samples: np.ndarray, loss: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict:
    """``L = a D^-alpha`` over training-set sizes ``D`` (all runs), with bootstrap intervals."""
    samples, loss = np.asarray(samples, float), np.asarray(loss, float)
    _check("fit_data_law", samples, loss)

    def fit(idx: np.ndarray) -> np.ndarray:
        if len(np.unique(samples[idx])) < 2:
            raise ValueError("fewer than two data sizes")
        return np.array(power_law(samples[idx], loss[idx]))

    best = fit(np.arange(len(loss)))
    boot = _bootstrap(len(loss), n_boot, seed, fit)
    return {
        "law": "L = a * D^-alpha (D training scenes)",
        "a": _interval(best[0], boot[:, 0] if len(boot) else np.array([])).to_dict(),
        "alpha": _interval(best[1], boot[:, 1] if len(boot) else np.array([])).to_dict(),
        "n_runs": len(loss),
        "n_boot": len(boot),
        "draws": boot.tolist(),
    }


# ----------------------------------------------------------------------------- the joint law
_JOINT = ("E", "A", "alpha", "B", "beta")


def joint_loss(params: np.ndarray, n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``E + A N^-alpha + B D^-beta`` with ``params = (E, A, alpha, B, beta)``."""
    e, a, alpha, b, beta = params
    return e + a * n ** (-alpha) + b * d ** (-beta)


def _joint_fit(
    log_n: np.ndarray, log_d: np.ndarray, log_l: np.ndarray, starts: list[np.ndarray]
) -> np.ndarray:
    """Least squares of log L over ``theta = (log E, log A, alpha, log B, beta)``."""

    def residual(theta: np.ndarray) -> np.ndarray:
        terms = np.stack(
            [
                np.full_like(log_n, theta[0]),
                theta[1] - theta[2] * log_n,
                theta[3] - theta[4] * log_d,
            ]
        )
        return np.logaddexp.reduce(terms, axis=0) - log_l

    lower = [-40.0, -40.0, 0.0, -40.0, 0.0]
    upper = [10.0, 60.0, 4.0, 60.0, 4.0]
    best, best_cost = None, np.inf
    for start in starts:
        start = np.clip(start, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
        result = optimize.least_squares(residual, start, bounds=(lower, upper), method="trf")
        if result.cost < best_cost:
            best, best_cost = result.x, result.cost
    if best is None:
        raise RuntimeError("joint fit failed")
    return best


def _starts(log_l: np.ndarray) -> list[np.ndarray]:
    floor = log_l.min()
    return [
        np.array([e, a, alpha, b, beta])
        for e in (floor - 3.0, floor - 0.5)
        for a in (floor + 2.0, floor + 6.0)
        for alpha in (0.3, 0.8)
        for b in (floor + 2.0, floor + 6.0)
        for beta in (0.3, 0.8)
    ]


def fit_joint_law(
    params: np.ndarray, samples: np.ndarray, loss: np.ndarray, *, n_boot: int = 300, seed: int = 0
) -> dict:
    """``L(N, D) = E + A N^-alpha + B D^-beta`` with bootstrap intervals.

    ``params``: parameter counts ``N``; ``samples``: training samples seen ``D`` (steps times
    batch); ``loss``: test losses. The full fit tries a grid of starting points; each bootstrap
    refit starts from the full fit. Returns Interval dicts of ``E, A, alpha, B, beta`` and the
    bootstrap draws (``"draws"``, a list of parameter vectors) for :func:`compute_optimal`.
    """
    n, d, l = (np.asarray(x, float) for x in (params, samples, loss))
    _check("fit_joint_law", n, d, l)
    if len(np.unique(n)) < 2 or len(np.unique(d)) < 2:
        raise ValueError("fit_joint_law needs at least two model sizes and two data amounts")
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(l)
    theta = _joint_fit(log_n, log_d, log_l, _starts(log_l))

    def refit(idx: np.ndarray) -> np.ndarray:
        if len(np.unique(n[idx])) < 2 or len(np.unique(d[idx])) < 2:
            raise ValueError("degenerate resample")
        return _joint_fit(log_n[idx], log_d[idx], log_l[idx], [theta])

    boot = _bootstrap(len(l), n_boot, seed, refit)
    as_params = lambda t: np.array([np.exp(t[0]), np.exp(t[1]), t[2], np.exp(t[3]), t[4]])  # noqa: E731
    best = as_params(theta)
    draws = np.array([as_params(t) for t in boot]) if len(boot) else np.zeros((0, 5))
    residual = np.log(joint_loss(best, n, d)) - log_l
    out = {
        "law": "L = E + A * N^-alpha + B * D^-beta (N parameters, D training samples seen)",
        **{k: _interval(best[i], draws[:, i]).to_dict() for i, k in enumerate(_JOINT)},
        "rms_log_residual": float(np.sqrt(np.mean(residual**2))),
        "n_runs": len(l),
        "n_boot": len(draws),
        "draws": draws.tolist(),
    }
    return out


def fit_cost(params: np.ndarray, flops_per_sample: np.ndarray) -> tuple[float, float]:
    """``(k, gamma)`` of the training cost per sample ``c(N) = k N^gamma`` over a family's sizes."""
    n, c = np.asarray(params, float), np.asarray(flops_per_sample, float)
    _check("fit_cost", n, c)
    k, minus_gamma = power_law(n, c)
    return k, -minus_gamma


def _optimum(theta: np.ndarray, k: float, gamma: float, budget: float, bounds: tuple) -> float:
    """``log N*`` minimising ``L(N, C / c(N))`` at ``C = budget`` within ``bounds`` (log N)."""

    def objective(log_n: float) -> float:
        n = np.exp(log_n)
        d = budget / (k * n**gamma)
        return float(np.log(joint_loss(theta, np.array([n]), np.array([d]))[0]))

    result = optimize.minimize_scalar(
        objective, bounds=bounds, method="bounded", options={"xatol": 1e-6}
    )
    return float(result.x)


def compute_optimal(
    joint: dict,
    cost: tuple[float, float],
    budgets: np.ndarray,
    *,
    batch: int,
    n_range: tuple[float, float] = (1e2, 1e12),
) -> dict:
    """Compute-optimal model size and training steps against budget, with bootstrap intervals.

    Args:
        joint: a result of :func:`fit_joint_law`.
        cost: ``(k, gamma)`` of :func:`fit_cost`: training FLOPs per sample ``k N^gamma``.
        budgets: compute budgets ``C`` in FLOPs.
        batch: samples per step (steps = samples / batch).
        n_range: the model sizes searched (an optimum at an end of it is reported as such).

    Returns:
        ``{"budgets", "params", "steps", "samples", "loss"}`` (Interval dicts per budget) and the
        exponents ``"a"`` (``N* ~ C^a``) and ``"b"`` (``D* ~ C^b``) as Interval dicts.
    """
    budgets = np.asarray(budgets, float)
    k, gamma = cost
    bounds = (np.log(n_range[0]), np.log(n_range[1]))
    best = np.array([joint[key]["value"] for key in _JOINT])
    draws = np.asarray(joint.get("draws", []), float).reshape(-1, 5)

    def solve(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        log_n = np.array([_optimum(theta, k, gamma, c, bounds) for c in budgets])
        n = np.exp(log_n)
        d = budgets / (k * n**gamma)
        a = np.polyfit(np.log(budgets), log_n, 1)[0] if len(budgets) > 1 else np.nan
        b = np.polyfit(np.log(budgets), np.log(d), 1)[0] if len(budgets) > 1 else np.nan
        return n, d, float(a), float(b)

    n, d, a, b = solve(best)
    loss = joint_loss(best, n, d)
    runs = [solve(t) for t in draws]
    boot_n = np.array([r[0] for r in runs]).reshape(-1, len(budgets))
    boot_d = np.array([r[1] for r in runs]).reshape(-1, len(budgets))
    boot_l = np.array([joint_loss(t, r[0], r[1]) for t, r in zip(draws, runs)]).reshape(
        -1, len(budgets)
    )
    per = lambda v, s: [_interval(v[i], s[:, i]).to_dict() for i in range(len(budgets))]  # noqa: E731
    at_edge = (np.abs(np.log(n) - bounds[0]) < 1e-3) | (np.abs(np.log(n) - bounds[1]) < 1e-3)
    return {
        "budgets": budgets.tolist(),
        "params": per(n, boot_n),
        "samples": per(d, boot_d),
        "steps": per(d / batch, boot_d / batch),
        "loss": per(loss, boot_l),
        "a": _interval(a, np.array([r[2] for r in runs])).to_dict(),
        "b": _interval(b, np.array([r[3] for r in runs])).to_dict(),
        "at_search_edge": at_edge.tolist(),
        "cost": {"k": k, "gamma": gamma, "law": "training FLOPs per sample = k * N^gamma"},
    }
