"""The algebra study's outputs: a summary per model and size, a markdown table and a PNG.

``summarise`` reduces the per-run results to mean, standard deviation (over seeds, ``ddof=1``),
minimum and maximum of the mean squared error of the final positions per (model, size, test set).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from noether.core.io import atomic_write_text, save_figure

__all__ = ["markdown_table", "plot_study", "summarise", "write_report"]

SET_LABELS = {
    "test": "test",
    "test_rotated": "rotated",
    "test_translated": "translated",
    "test_more_bodies": "more bodies",
}


def summarise(results: list[dict[str, Any]], metric: str = "mse") -> dict[str, Any]:
    """``{model: {size: {set: {"mean", "std", "min", "max", "seeds"}}}}`` of ``metric``."""
    values: dict[str, dict[int, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in results:
        for name, errors in r["test"].items():
            values[r["model"]][int(r["size"])][name].append(float(errors[metric]))
    summary: dict[str, Any] = {}
    for model, sizes in values.items():
        summary[model] = {}
        for size, sets in sorted(sizes.items()):
            summary[model][size] = {}
            for name, xs in sets.items():
                a = np.asarray(xs)
                summary[model][size][name] = {
                    "mean": float(a.mean()),
                    "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                    "min": float(a.min()),
                    "max": float(a.max()),
                    "seeds": len(a),
                }
    return summary


def _si(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _error(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "–"
    if cell.get("seeds", 1) < 2:
        return f"{cell['mean']:.2e}"
    return f"{cell['mean']:.2e} ± {cell['std']:.1e}"


def markdown_table(
    summary: dict[str, Any],
    costs: dict[str, dict[str, Any]],
    labels: dict[str, str],
    baselines: dict[str, dict[str, dict[str, float]]] | None = None,
) -> str:
    """One row per model: cost, test MSE per training size, and MSE on the transformed and
    larger test sets at the largest size (mean ± standard deviation over seeds); then one row
    per physical baseline (:func:`noether.sims.nbody.eval.baseline_errors`)."""
    sizes = sorted({size for model in summary.values() for size in model})
    largest = sizes[-1] if sizes else 0
    seeds = max(
        (c["seeds"] for m in summary.values() for s in m.values() for c in s.values()), default=0
    )
    head = ["model", "params", "FLOPs / token", "ms / step"]
    head += [f"test MSE, n={n}" for n in sizes]
    head += [f"{SET_LABELS[s]} (n={largest})" for s in list(SET_LABELS)[1:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, label in labels.items():
        if model not in summary:
            continue
        cost = costs.get(model, {})
        row = [
            label,
            _si(cost["parameters"]) if cost else "–",
            _si(cost["flops_per_token"]) if cost else "–",
            f"{1e3 * cost['step_seconds']:.1f}" if cost else "–",
        ]
        row += [_error(summary[model].get(n, {}).get("test")) for n in sizes]
        row += [_error(summary[model].get(largest, {}).get(s)) for s in list(SET_LABELS)[1:]]
        lines.append("| " + " | ".join(row) + " |")
    for name, sets in (baselines or {}).items():
        row = [f"*{name}*", "0", "0", "–"]
        row += [_error({"mean": sets["test"]["mse"]}) for _ in sizes]
        row += [_error({"mean": sets[s]["mse"]}) for s in list(SET_LABELS)[1:]]
        lines.append("| " + " | ".join(row) + " |")
    batch = next((c.get("batch_size") for c in costs.values()), None)
    spread = f"mean ± standard deviation over {seeds} seeds" if seeds > 1 else "one seed"
    note = (
        f"\nMSE of the final positions ({spread}); in italics, two physical baselines. "
        f"FLOPs per token: forward + backward, as executed; ms / step: forward, backward and "
        f"AdamW update of a batch of {batch} systems on one CPU thread (best of 5 rounds)."
    )
    return "\n".join(lines) + "\n" + note + "\n"


_COLORS = {
    "ega": "tab:green",
    "pga": "tab:orange",
    "ipga": "tab:red",
    "cga": "tab:purple",
    "transformer": "tab:gray",
    "transformer-aug": "tab:blue",
}


def plot_study(
    summary: dict[str, Any],
    labels: dict[str, str],
    path: str | Path,
    baselines: dict[str, dict[str, dict[str, float]]] | None = None,
) -> Path:
    """Sample efficiency (test MSE against training systems, log-log, mean ± std over seeds) and
    the MSE on every test set at the largest size, with the physical baselines as dashed lines;
    written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    models = [m for m in labels if m in summary]
    sizes = sorted({size for m in models for size in summary[m]})
    for model in models:
        ns = [n for n in sizes if "test" in summary[model].get(n, {})]
        cells = [summary[model][n]["test"] for n in ns]
        mean = np.array([c["mean"] for c in cells])
        std = np.array([c["std"] for c in cells])
        lower = np.minimum(std, 0.9 * mean)  # keep the bar above zero on the log axis
        left.errorbar(
            ns,
            mean,
            yerr=[lower, std],
            marker="o",
            capsize=3,
            label=labels[model],
            color=_COLORS.get(model),
        )
    for k, (name, sets) in enumerate((baselines or {}).items()):
        style = {"color": "black", "linestyle": ("--", ":")[k % 2], "linewidth": 1}
        left.axhline(sets["test"]["mse"], label=name, **style)
    left.set(
        xscale="log",
        yscale="log",
        xlabel="training systems",
        ylabel="test MSE of final positions",
        title="sample efficiency (mean ± std over seeds)",
    )
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    largest = sizes[-1] if sizes else 0
    width = 0.8 / max(len(models), 1)
    for k, model in enumerate(models):
        cells = summary[model].get(largest, {})
        means = [cells.get(s, {}).get("mean", math.nan) for s in SET_LABELS]
        stds = [cells.get(s, {}).get("std", 0.0) for s in SET_LABELS]
        xs = np.arange(len(SET_LABELS)) + (k - (len(models) - 1) / 2) * width
        right.bar(xs, means, width, yerr=stds, label=labels[model], color=_COLORS.get(model))
    for k, sets in enumerate((baselines or {}).values()):
        style = {"color": "black", "linestyle": ("--", ":")[k % 2], "linewidth": 1}
        for i, s in enumerate(SET_LABELS):
            right.hlines(sets[s]["mse"], i - 0.45, i + 0.45, **style)
    right.set_xticks(np.arange(len(SET_LABELS)), list(SET_LABELS.values()))
    right.set(yscale="log", ylabel="MSE", title=f"generalisation, n={largest} training systems")
    right.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def write_report(
    out: str | Path,
    results: list[dict[str, Any]],
    costs: dict[str, dict[str, Any]],
    labels: dict[str, str],
    plan: dict[str, Any],
    command: str,
    baselines: dict[str, dict[str, dict[str, float]]] | None = None,
) -> dict[str, Path]:
    """``results.json`` (plan, costs, every run, summary), ``results.md`` and
    ``sample_efficiency.png`` in ``out``."""
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results)
    table = markdown_table(summary, costs, labels, baselines)
    text = f"# Algebra study\n\n```\n{command}\n```\n\n{table}"
    atomic_write_text(out / "results.md", text)
    document = {
        "command": command,
        "plan": plan,
        "costs": costs,
        "summary": summary,
        "summary_mae": summarise(results, "mae"),
        "baselines": baselines or {},
        "runs": sorted(results, key=lambda r: (r["model"], r["size"], r["seed"])),
    }
    atomic_write_text(out / "results.json", json.dumps(document, indent=1) + "\n")
    figure = plot_study(summary, labels, out / "sample_efficiency.png", baselines)
    return {"table": out / "results.md", "json": out / "results.json", "plot": figure}
