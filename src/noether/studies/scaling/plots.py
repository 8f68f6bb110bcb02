"""The study's figures (matplotlib, Agg): compute, data efficiency, allocation, the raw grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noether.core.io import save_figure
from noether.studies.scaling.analysis import data_points, grid_points
from noether.studies.scaling.fits import law_band
from noether.studies.scaling.plan import FAMILIES, SweepSpec

__all__ = ["plot_all"]

COLORS = {"gatr": "tab:red", "transformer": "tab:blue", "transformer-aug": "tab:green"}


def _baselines(ax, base: dict) -> None:
    for name, style in (("ballistic", ":"), ("no_motion", "--")):
        if name in base:
            ax.axhline(
                base[name],
                color="gray",
                ls=style,
                lw=1,
                label=f"{name.replace('_', ' ')} ({base[name]:.3g})",
            )


def _compute(fits: dict, results: list[dict], spec: SweepSpec, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for family in spec.families:
        grid = grid_points(results, spec, family)
        entry = fits["families"].get(family, {})
        axes = ("structured", "dense") if family == "gatr" else ("structured",)
        for axis in axes:
            c = np.array([r["compute"][axis] for r in grid])
            loss = np.array([r["test_mse"] for r in grid])
            hollow = axis == "dense"
            label = f"{FAMILIES[family]['label']}" + (
                f" [{axis} FLOPs]" if family == "gatr" else ""
            )
            ax.scatter(
                c,
                loss,
                s=16,
                color=COLORS[family],
                alpha=0.35,
                facecolors="none" if hollow else COLORS[family],
            )
            fit = entry.get("compute_law", {}).get(axis, {})
            if "a" in fit:
                front = np.array(fit["frontier"])
                ax.scatter(
                    c[front],
                    loss[front],
                    s=30,
                    color=COLORS[family],
                    facecolors="none" if hollow else COLORS[family],
                )
                x = np.geomspace(c.min(), c.max(), 50)
                value, low, high = law_band(fit, x)
                alpha = fit["alpha"]
                ax.plot(
                    x,
                    value,
                    color=COLORS[family],
                    ls="--" if hollow else "-",
                    label=f"{label}: α = {alpha['value']:.2f} "
                    f"[{alpha['low']:.2f}, {alpha['high']:.2f}]",
                )
                ax.fill_between(x, low, high, color=COLORS[family], alpha=0.12)
    _baselines(ax, fits.get("baselines", {}))
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training compute (FLOPs, forward + backward)",
        ylabel="test MSE of next-frame points (cm²)",
        title="Loss against compute: runs, frontier and power law L = a C^-α",
    )
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.2)
    return save_figure(fig, path, dpi=130)


def _data(fits: dict, results: list[dict], spec: SweepSpec, path: Path) -> Path:
    import matplotlib.pyplot as plt

    families = spec.families
    fig, axes = plt.subplots(1, 1 + len(families), figsize=(4.2 * (1 + len(families)), 4))
    ax = axes[0]
    for family in families:
        pts = sorted(data_points(results, spec, family), key=lambda r: r["scenes"])
        if not pts:
            continue
        d = np.array([r["scenes"] for r in pts])
        ax.plot(
            d,
            [r["test_mse"] for r in pts],
            "o-",
            color=COLORS[family],
            label=FAMILIES[family]["label"],
        )
        ax.plot(d, [r["test_mse_moved"] for r in pts], "x:", color=COLORS[family], alpha=0.6)
    _baselines(ax, fits.get("baselines", {}))
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training scenes",
        ylabel="test MSE (cm²)",
        title="Data efficiency (x: test set moved)",
    )
    ax.legend(fontsize=7)
    for ax, family in zip(axes[1:], families):
        pts = sorted(data_points(results, spec, family), key=lambda r: r["scenes"])
        colors = [plt.cm.viridis(v) for v in np.linspace(0, 0.9, max(len(pts), 1))]
        for color, r in zip(colors, pts):
            curve = r["val_curve"]
            if curve:
                ax.plot(
                    [p["epoch"] for p in curve],
                    [p["val_mse"] for p in curve],
                    "o-",
                    ms=3,
                    color=color,
                    label=f"{r['scenes']} scenes",
                )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="epochs",
            ylabel="validation MSE (cm²)",
            title=FAMILIES[family]["label"],
        )
        ax.legend(fontsize=7)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def _allocation(fits: dict, spec: SweepSpec, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for family in spec.families:
        optimal = fits["families"].get(family, {}).get("compute_optimal", {})
        for axis in ("structured", "dense") if family == "gatr" else ("structured",):
            result = optimal.get(axis, {})
            if "params" not in result:
                continue
            c = np.array(result["budgets"])
            ls = "--" if axis == "dense" else "-"
            suffix = f" [{axis}]" if family == "gatr" else ""
            for ax, key, exp in ((left, "params", "a"), (right, "steps", "b")):
                v = np.array([p["value"] for p in result[key]])
                lo = np.array([p["low"] for p in result[key]])
                hi = np.array([p["high"] for p in result[key]])
                e = result[exp]
                ax.plot(
                    c,
                    v,
                    ls,
                    color=COLORS[family],
                    label=f"{FAMILIES[family]['label']}{suffix}: ∝ C^{e['value']:.2f}",
                )
                ax.fill_between(c, lo, hi, color=COLORS[family], alpha=0.1)
    left.set(
        xscale="log",
        yscale="log",
        xlabel="compute budget (FLOPs)",
        ylabel="compute-optimal parameters N*",
        title="Model size against budget",
    )
    right.set(
        xscale="log",
        yscale="log",
        xlabel="compute budget (FLOPs)",
        ylabel=f"compute-optimal steps S* (batch {spec.batch_size})",
        title="Training steps against budget",
    )
    for ax in (left, right):
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.2)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def _grid(results: list[dict], spec: SweepSpec, path: Path) -> Path:
    import matplotlib.pyplot as plt

    families = spec.families
    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families), 4), sharey=True)
    for ax, family in zip(np.atleast_1d(axes), families):
        grid = grid_points(results, spec, family)
        for size in spec.sizes(family):
            pts = sorted((r for r in grid if r["size"] == size), key=lambda r: r["steps"])
            if pts:
                ax.plot(
                    [r["steps"] for r in pts],
                    [r["test_mse"] for r in pts],
                    "o-",
                    label=f"{size} ({pts[0]['params']:,} params)",
                )
        ax.set(xscale="log", yscale="log", xlabel="training steps", title=FAMILIES[family]["label"])
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.2)
    np.atleast_1d(axes)[0].set_ylabel("test MSE (cm²)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def plot_all(fits: dict, results: list[dict], spec: SweepSpec, out: Path) -> list[Path]:
    """Write ``compute.png``, ``data.png``, ``allocation.png`` and ``grid.png`` into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [
        _compute(fits, results, spec, out / "compute.png"),
        _data(fits, results, spec, out / "data.png"),
        _allocation(fits, spec, out / "allocation.png"),
        _grid(results, spec, out / "grid.png"),
    ]
    plt.close("all")
    return paths
