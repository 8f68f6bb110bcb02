"""The SLMC study's report: the tables (``table.md``), ``results.json`` and four figures
(matplotlib, Agg backend), each written atomically."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from noether.core.io import atomic_write_text, save_figure
from noether.lattice.model import DoubleExchangeModel


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


def _tau(row: dict, name: str, digits: int) -> str:
    """τ in EDs, starred when Sokal's window was not reached within the run."""
    star = "" if row.get(f"tau_{name}_window", True) else "*"
    return f"{row[f'tau_{name}_ed']:.{digits}f}{star}"


def layer_table(reference: dict, rows: list[dict], model: DoubleExchangeModel) -> str:
    """The markdown table of the reference sampler and the SLMC models, with its caption."""
    head = (
        "| sampler | layers | parameters | test MSE (t²) | β·RMSE | erfc(β·RMSE/2) | acceptance "
        "| τ_int(\\|m\\|) [EDs] | τ_int(Ω) [EDs] | ⟨\\|m\\|⟩ | ⟨Ω⟩/N | s per eff. sample |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| reference Metropolis | – | – | – | – | – | {reference['acceptance']:.3f} (1-spin) "
        f"| {_tau(reference, 'm', 0)} | {_tau(reference, 'e', 0)} "
        f"| {reference['m']:.4f} ± {reference['m_err']:.4f} "
        f"| {reference['energy']:.5f} ± {reference['energy_err']:.5f} "
        f"| {reference['seconds_per_effective_sample']:.3g} |"
    ]
    for r in rows:
        name = "SLMC linear" if r["layers"] == 0 else "SLMC transformer"
        lines.append(
            f"| {name} | {r['layers']} | {r['parameters']} | {r['test_mse']:.3e} "
            f"| {r['beta_rmse']:.2f} | {r['predicted_acceptance']:.3f} "
            f"| {r['acceptance']:.3f} ± {r['acceptance_err']:.3f} | {_tau(r, 'm', 1)} "
            f"| {_tau(r, 'e', 1)} | {r['m']:.4f} ± {r['m_err']:.4f} "
            f"| {r['energy']:.5f} ± {r['energy_err']:.5f} "
            f"| {r['seconds_per_effective_sample']:.3g} |"
        )
    caption = (
        f"{model.L}x{model.L}, t={model.t:g}, J={model.J:g}, mu={model.mu:g}, T={model.T:g}. "
        "EDs = exact diagonalisations; a reference sweep costs N of them, an SLMC update one. "
        "τ* : the run is shorter than about 5 τ (Sokal's window not reached), so τ and the error "
        "bars that use it are rough; --scale lengthens the runs."
    )
    return caption + "\n\n" + head + "\n".join(lines) + "\n"


def scan_table(scan_rows: list[dict]) -> str:
    """The markdown table of the magnetisation scan over temperature."""
    text = "| T | reference ⟨\\|m\\|⟩ | SLMC ⟨\\|m\\|⟩ | SLMC acceptance |\n|---|---|---|---|\n"
    return text + "\n".join(
        f"| {r['T']:g} | {r['reference_m']:.4f} ± {r['reference_m_err']:.4f} "
        f"| {r['slmc_m']:.4f} ± {r['slmc_m_err']:.4f} | {r['slmc_acceptance']:.3f} |"
        for r in scan_rows
    )


def write_report(
    out: Path,
    model: DoubleExchangeModel,
    reference: dict,
    rows: list[dict],
    scan_rows: list[dict],
    *,
    threads: int,
    start: float,
    recorded_args: dict[str, str],
) -> str:
    """Write the four figures, ``table.md`` and ``results.json`` to ``out``; returns the text of
    ``table.md``. ``start`` is the study's ``time.perf_counter()`` at its beginning (the wall time
    is reported), ``recorded_args`` the options as strings, stored in ``results.json``."""
    laws = {
        "loss_vs_parameters": loss_vs_parameters(rows, out / "loss_vs_parameters.png"),
        "acceptance_vs_loss": acceptance_vs_loss(rows, model.beta, out / "acceptance_vs_loss.png"),
    }
    acceptance_vs_layers(rows, out / "acceptance_vs_layers.png")
    magnetisation_vs_temperature(scan_rows, out / "magnetisation_vs_T.png")
    fits = []
    if laws["loss_vs_parameters"]:
        fits.append(
            f"test MSE ∝ P^{laws['loss_vs_parameters']['exponent']:.3f} (models with >= 2 layers)"
        )
    if laws["acceptance_vs_loss"]:
        fits.append(f"acceptance ∝ MSE^{laws['acceptance_vs_loss']['exponent']:.3f} (all models)")
    elapsed = time.perf_counter() - start
    text = layer_table(reference, rows, model) + "\n" + scan_table(scan_rows)
    text += "\n\nPower laws: " + "; ".join(fits) + "\n"
    text += f"\nWall time of the whole study: {elapsed / 60:.1f} min ({threads} thread(s)).\n"
    atomic_write_text(out / "table.md", text)
    payload = {"args": recorded_args, "reference": reference, "models": rows, "scan": scan_rows,
               "power_laws": laws, "seconds": elapsed}  # fmt: skip
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    return text
