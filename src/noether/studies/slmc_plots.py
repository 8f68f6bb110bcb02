"""Figures of the SLMC study (matplotlib, Agg backend), each written atomically as a PNG."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from noether.core.io import save_figure


def power_law(x: list[float], y: list[float]) -> tuple[float, float]:
    """Least-squares fit of ``y = a x^b`` in log-log space: returns ``(a, b)``."""
    b, log_a = np.polyfit(np.log(x), np.log(y), 1)
    return float(math.exp(log_a)), float(b)


def acceptance_vs_layers(rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.6))
    layers = [r["layers"] for r in rows]
    ax.errorbar(
        layers,
        [r["acceptance"] for r in rows],
        yerr=[r["acceptance_err"] for r in rows],
        marker="o",
        capsize=3,
        label="measured",
    )
    ax.plot(layers, [r["predicted_acceptance"] for r in rows], "s--", label="erfc(β·RMSE/2)")
    ax.set_xlabel("attention layers (0 = linear model)")
    ax.set_ylabel("SLMC acceptance")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def loss_vs_parameters(rows: list[dict], path: Path, min_layers: int = 2) -> dict | None:
    """Test MSE against parameters, with a power law fitted to models of >= ``min_layers``."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    params = [r["parameters"] for r in rows]
    loss = [r["test_mse"] for r in rows]
    ax.loglog(params, loss, "o", label="models (label: layers)")
    for r in rows:
        ax.annotate(str(r["layers"]), (r["parameters"], r["test_mse"]), fontsize=8)
    fitted = [r for r in rows if r["layers"] >= min_layers]
    law = None
    if len(fitted) >= 2:
        a, b = power_law([r["parameters"] for r in fitted], [r["test_mse"] for r in fitted])
        xs = np.geomspace(min(r["parameters"] for r in fitted), max(params), 50)
        ax.loglog(xs, a * xs**b, "--", label=f"fit (≥{min_layers} layers): ∝ P^{b:.3f}")
        law = {"prefactor": a, "exponent": b, "min_layers": min_layers}
    ax.set_xlabel("parameters P")
    ax.set_ylabel("test MSE of Ω (t²)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, path)
    return law


def acceptance_vs_loss(rows: list[dict], beta: float, path: Path) -> dict | None:
    """Acceptance against test MSE with the Gaussian prediction and a fitted power law."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    mse = np.array([r["test_mse"] for r in rows])
    acc = np.array([r["acceptance"] for r in rows])
    ax.errorbar(
        mse, acc, yerr=[r["acceptance_err"] for r in rows], fmt="o", capsize=3, label="measured"
    )
    xs = np.geomspace(mse.min() * 0.8, mse.max() * 1.2, 50)
    ax.plot(
        xs,
        [math.erfc(beta * math.sqrt(x) / 2) for x in xs],
        ":",
        label="erfc(β·RMSE/2), independent proposals",
    )
    law = None
    if len(rows) >= 2 and (acc > 0).all():
        a, b = power_law(list(mse), list(acc))
        ax.plot(xs, a * xs**b, "--", label=f"fit: acceptance ∝ MSE^{b:.2f}")
        law = {"prefactor": a, "exponent": b}
    ax.set_xscale("log")
    ax.set_xlabel("test MSE of Ω (t²)")
    ax.set_ylabel("SLMC acceptance")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    save_figure(fig, path)
    return law


def magnetisation_vs_temperature(scan: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.6))
    temps = [s["T"] for s in scan]
    ax.errorbar(
        temps,
        [s["reference_m"] for s in scan],
        yerr=[s["reference_m_err"] for s in scan],
        marker="o",
        capsize=3,
        label="reference Metropolis (exact)",
    )
    ax.errorbar(
        temps,
        [s["slmc_m"] for s in scan],
        yerr=[s["slmc_m_err"] for s in scan],
        marker="s",
        capsize=3,
        linestyle="--",
        label=f"SLMC, {scan[0]['slmc_model']}",
    )
    ax.set_xlabel("temperature T (t)")
    ax.set_ylabel("⟨|m|⟩")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, path)
