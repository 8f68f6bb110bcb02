"""The algebra study's outputs: a summary per model and size, a markdown table and a PNG.

``summarise`` reduces the per-run results to the median, mean, standard deviation (over seeds,
``ddof=1``), minimum, maximum and every seed's value of the mean squared error of the final
positions per (model, size, test set). Tables and plots show medians with every seed visible:
the errors of GATr seeds can differ by an order of magnitude, where a mean and standard
deviation on a log axis mislead.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from noether.core.io import atomic_write_text, save_figure

__all__ = [
    "markdown_table",
    "plot_seeds",
    "plot_study",
    "seed_table",
    "summarise",
    "write_report",
]

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
    for r in sorted(results, key=lambda r: r["seed"]):
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
                    "median": float(np.median(a)),
                    "values": [float(x) for x in a],
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


def _error(cell: dict[str, Any] | None) -> str:
    """``median (min–max)`` over seeds, or the one value."""
    if cell is None:
        return "–"
    if cell.get("seeds", 1) < 2:
        return f"{cell.get('median', cell['mean']):.2e}"
    return f"{cell['median']:.2e} ({cell['min']:.1e}–{cell['max']:.1e})"


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
    spread = f"median (lowest–highest) over {seeds} seeds" if seeds > 1 else "one seed"
    note = (
        f"\nMSE of the final positions ({spread}); in italics, two physical baselines. "
        f"FLOPs per token: forward + backward, as executed; ms / step: forward, backward and "
        f"AdamW update of a batch of {batch} systems on one CPU thread (best of 5 rounds)."
    )
    return "\n".join(lines) + "\n" + note + "\n"


def seed_table(summary: dict[str, Any], labels: dict[str, str], test_set: str = "test") -> str:
    """Every seed's MSE per model and size, the ratio of the worst seed to the best, and how
    many seeds end within 2x of the best (the reliability target of issue 24)."""
    seeds = max(
        (len(c["values"]) for m in summary.values() for s in m.values() for c in s.values()),
        default=0,
    )
    head = ["model", "n", *[f"seed {k}" for k in range(seeds)], "worst / best", "within 2x"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, label in labels.items():
        for size, sets in sorted(summary.get(model, {}).items()):
            cell = sets.get(test_set)
            if cell is None:
                continue
            xs = cell["values"]
            row = [label, str(size), *[f"{x:.2e}" for x in xs], *["–"] * (seeds - len(xs))]
            best = min(xs)
            row += [f"{max(xs) / best:.1f}", f"{sum(x <= 2 * best for x in xs)}/{len(xs)}"]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


_COLORS = {
    "ega": "tab:green",
    "pga": "tab:orange",
    "ipga": "tab:red",
    "cga": "tab:purple",
    "transformer": "tab:gray",
    "transformer-flops": "tab:brown",
    "transformer-aug": "tab:blue",
}


def plot_study(
    summary: dict[str, Any],
    labels: dict[str, str],
    path: str | Path,
    baselines: dict[str, dict[str, dict[str, float]]] | None = None,
) -> Path:
    """Sample efficiency (test MSE against training systems, log-log: every seed a point, the
    median a line) and the MSE on every test set at the largest size (median bars, seeds as
    points), with the physical baselines as dashed lines; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    models = [m for m in labels if m in summary]
    sizes = sorted({size for m in models for size in summary[m]})
    for k, model in enumerate(models):
        ns = [n for n in sizes if "test" in summary[model].get(n, {})]
        cells = [summary[model][n]["test"] for n in ns]
        color = _COLORS.get(model)
        left.plot(ns, [c["median"] for c in cells], marker="o", label=labels[model], color=color)
        jitter = 1.0 + 0.03 * (k - (len(models) - 1) / 2)
        for n, c in zip(ns, cells, strict=True):
            left.scatter([n * jitter] * len(c["values"]), c["values"], s=9, alpha=0.5, color=color)
    for k, (name, sets) in enumerate((baselines or {}).items()):
        style = {"color": "black", "linestyle": ("--", ":")[k % 2], "linewidth": 1}
        left.axhline(sets["test"]["mse"], label=name, **style)
    left.set(
        xscale="log",
        yscale="log",
        xlabel="training systems",
        ylabel="test MSE of final positions",
        title="sample efficiency (line: median; points: seeds)",
    )
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)

    largest = sizes[-1] if sizes else 0
    width = 0.8 / max(len(models), 1)
    for k, model in enumerate(models):
        cells = summary[model].get(largest, {})
        xs = np.arange(len(SET_LABELS)) + (k - (len(models) - 1) / 2) * width
        medians = [cells.get(s, {}).get("median", math.nan) for s in SET_LABELS]
        color = _COLORS.get(model)
        right.bar(xs, medians, width, label=labels[model], color=color, alpha=0.6)
        for x, s in zip(xs, SET_LABELS, strict=True):
            values = cells.get(s, {}).get("values", [])
            right.scatter([x] * len(values), values, s=7, color="black", alpha=0.6, zorder=3)
    for k, sets in enumerate((baselines or {}).values()):
        style = {"color": "black", "linestyle": ("--", ":")[k % 2], "linewidth": 1}
        for i, s in enumerate(SET_LABELS):
            right.hlines(sets[s]["mse"], i - 0.45, i + 0.45, **style)
    right.set_xticks(np.arange(len(SET_LABELS)), list(SET_LABELS.values()))
    right.set(yscale="log", ylabel="MSE", title=f"generalisation, n={largest} training systems")
    right.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def plot_seeds(studies: dict[str, str | Path], path: str | Path, size: int | None = None) -> Path:
    """Every seed's test MSE per model, side by side for several studies (``{label:
    results.json}``, e.g. before and after a change), at training size ``size`` (default: the
    largest all share); written atomically as PNG."""
    import json

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    documents = {k: json.loads(Path(v).read_text()) for k, v in studies.items()}
    summaries = {k: summarise(d["runs"]) for k, d in documents.items()}  # older files: no values
    models = [m for m in next(iter(summaries.values())) if all(m in s for s in summaries.values())]
    shared = set.intersection(
        *({int(n) for m in s.values() for n in m} for s in summaries.values())
    )
    size = max(shared) if size is None else size
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(models), 4.2))
    width = 0.7 / max(len(studies), 1)
    for k, (label, summary) in enumerate(summaries.items()):
        for i, model in enumerate(models):
            values = summary[model][size]["test"]["values"] if size in summary[model] else []
            x = i + (k - (len(studies) - 1) / 2) * width
            ax.scatter(
                [x] * len(values), values, s=18, color=f"C{k}", label=label if i == 0 else None
            )
            if values:
                ax.hlines(float(np.median(values)), x - width / 2.5, x + width / 2.5, color=f"C{k}")
    ax.set_xticks(range(len(models)), models)
    ax.set(yscale="log", ylabel="test MSE", title=f"every seed, n={size} (bar: median)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
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
    seeds = seed_table(summary, labels)
    text = f"# Algebra study\n\n```\n{command}\n```\n\n{table}\n## Every seed (test MSE)\n\n{seeds}"
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
