"""The PolyGET study's report: ``results.json``, ``table.md`` and three PNG figures.

``forces.png``: force MAE per family and model (trained families on the test frames, held-out
families, longer chains). ``md.png``: MD time to failure (or the full run) per family, model and
temperature. ``structure.png``: bond-length, angle and pair-distance distributions of the
models' MD against xTB MD for a trained and a held-out family at the lowest MD temperature.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from noether.atoms.formats import read_dataset, read_frame_info
from noether.atoms.structure import (
    bond_angles,
    bond_lengths,
    bonded_angles,
    covalent_bonds,
    pair_distances,
)
from noether.core.io import atomic_write_json, save_figure
from noether.studies.polyget.plan import PolyGETPlan

__all__ = ["summarize", "write_report"]

SETS = {"test": "trained (test frames)", "unseen": "held-out families", "long": "longer chains"}


def _pooled_mae(per_family: dict[str, dict]) -> float:
    """Force MAE over every component of a set (meV/Å), NaN for an empty set."""
    total = sum(v["_sum_abs"] for v in per_family.values())
    count = sum(v["_count"] for v in per_family.values())
    return float(total / count * 1e3) if count else float("nan")


def summarize(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per model: pooled force MAE of each set, family-mean MAE, and the MD statistics."""
    out: dict[str, dict[str, float]] = {}
    for model, sets in results["forces"].items():
        row: dict[str, float] = {}
        for name in SETS:
            row[f"mae_{name}"] = _pooled_mae(sets.get(name, {}))
            energy = [v["energy_mae_offset_removed"] for v in sets.get(name, {}).values()]
            row[f"energy_{name}"] = float(np.mean(energy)) if energy else float("nan")
        runs = [r for r in results["md"] if r["model"] == model]
        row["md_runs"] = len(runs)
        row["md_stable"] = sum(r["stable"] for r in runs)
        for t in sorted({r["temperature"] for r in runs}):
            at = [r for r in runs if r["temperature"] == t]
            row[f"md_stable_{t:g}K"] = sum(r["stable"] for r in at)
            row[f"md_runs_{t:g}K"] = len(at)
        row["md_mean_time_ps"] = float(np.mean([r["time_ps"] for r in runs])) if runs else 0.0
        for key in ("bond", "angle", "rdf"):
            for kind in ("w1", "xtb_floor"):
                values = [r["structure"].get(f"{kind}_{key}") for r in runs]
                values = [v for v in values if v is not None]
                row[f"{kind}_{key}"] = float(np.mean(values)) if values else float("nan")
        out[model] = row
    return out


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _md_cell(run: dict | None) -> str:
    if run is None:
        return ""
    if run["stable"]:
        return f"{run['time_ps']:.2f} ps ✓"
    return f"**fails {run['failure_time_ps']:.3f} ps**"


def table(results: dict[str, Any]) -> str:
    """The markdown tables: a summary per model and one row per family."""
    plan = results["plan"]
    models = list(results["forces"])
    summary = summarize(results)
    temps = plan["md_temperatures"]
    target = plan["md_steps"] * plan["md_timestep"] / 1000.0
    lines = [f"Command: `{results['command']}`", ""]
    lines += [
        "| model | force MAE trained, test (meV/Å) | held-out families | longer chains | "
        + " | ".join(f"stable MD runs {t:g} K" for t in temps)
        + " | W1 bond (mÅ) | W1 angle (°) | W1 pair dist. (mÅ) |",
        "|---" * (7 + len(temps)) + "|",
    ]
    for m in models:
        s = summary[m]
        stable = [f"{s[f'md_stable_{t:g}K']} / {s[f'md_runs_{t:g}K']}" for t in temps]
        lines.append(
            f"| {m} | {_fmt(s['mae_test'])} | {_fmt(s['mae_unseen'])} | {_fmt(s['mae_long'])} | "
            + " | ".join(stable)
            + f" | {_fmt(s['w1_bond'] * 1e3)} | {_fmt(s['w1_angle'], 2)} | "
            f"{_fmt(s['w1_rdf'] * 1e3)} |"
        )
    floor = summary[models[0]]
    lines.append(
        "| xTB vs xTB (the two halves of the reference MD) | | | | "
        + " | ".join("" for _ in temps)
        + f" | {_fmt(floor['xtb_floor_bond'] * 1e3)} | {_fmt(floor['xtb_floor_angle'], 2)} | "
        f"{_fmt(floor['xtb_floor_rdf'] * 1e3)} |"
    )
    lines += ["", "| model | " + " | ".join(f"E MAE {v} (meV/atom)" for v in SETS.values()) + " |"]
    lines.append("|---" * (1 + len(SETS)) + "|")
    for m in models:
        cells = [_fmt(summary[m][f"energy_{name}"], 2) for name in SETS]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Energy MAE per atom after removing each family's mean error (a force-only model's "
        "energy is defined only up to such an offset), mean over families.",
    ]
    lines += [
        "",
        f"Force MAE pooled over all force components of the set. MD: Langevin, "
        f"{plan['md_timestep']} fs steps, {target:g} ps per run, friction "
        f"{plan['md_friction']} /fs; stable = no bond of the start changed by more than 0.5 Å, "
        f"no two atoms closer than 0.5 Å, no NaN. W1: Wasserstein-1 distance to the xTB MD "
        f"frames at the same temperature, mean over the runs (frames before a failure only).",
        "",
    ]
    header = "| family | set | atoms | " + " | ".join(f"F MAE {m}" for m in models)
    for m in models:
        header += " | " + " | ".join(f"MD {t:g} K {m}" for t in temps)
    header += " |"
    lines += [header, "|---" * (3 + len(models) * (1 + len(temps))) + "|"]
    md = {(r["model"], r["family"], r["temperature"]): r for r in results["md"]}
    for name in SETS:
        families = list(results["forces"][models[0]].get(name, {}))
        for f in families:
            atoms = results["forces"][models[0]][name][f]["atoms"]
            cells = [_fmt(results["forces"][m][name][f]["force_mae"]) for m in models]
            if name != "long":
                for m in models:
                    cells += [_md_cell(md.get((m, f, t))) for t in temps]
            else:
                cells += [""] * (len(models) * len(temps))
            lines.append(f"| {f} | {SETS[name]} | {atoms} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot_forces(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results["forces"])
    labels, values = [], {m: [] for m in models}
    for name in SETS:
        for f in results["forces"][models[0]].get(name, {}):
            labels.append(f"{f}\n{name}")
            for m in models:
                values[m].append(results["forces"][m][name][f]["force_mae"])
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(labels)), 4))
    width = 0.8 / len(models)
    for k, m in enumerate(models):
        ax.bar(x + (k - (len(models) - 1) / 2) * width, values[m], width, label=m)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("force MAE (meV/Å)")
    ax.set_title("ET force error per family: test frames of trained families, held-out, longer")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, tight=False)


def _plot_md(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan = results["plan"]
    models = list(results["forces"])
    temps = plan["md_temperatures"]
    families = results["families"]
    target = plan["md_steps"] * plan["md_timestep"] / 1000.0
    md = {(r["model"], r["family"], r["temperature"]): r for r in results["md"]}
    fig, axes = plt.subplots(1, len(temps), figsize=(6 * len(temps), 4), squeeze=False)
    x = np.arange(len(families))
    width = 0.8 / len(models)
    for ax, t in zip(axes[0], temps):
        for k, m in enumerate(models):
            times = [md[(m, f, t)]["time_ps"] if (m, f, t) in md else 0 for f in families]
            bars = ax.bar(x + (k - (len(models) - 1) / 2) * width, times, width, label=m)
            for bar, f in zip(bars, families):
                run = md.get((m, f, t))
                if run is not None and not run["stable"]:
                    bar.set_hatch("//")
        ax.axhline(target, color="k", lw=0.8, ls="--")
        held = set(plan["held_out"])
        ax.set_xticks(x, [f + ("*" if f in held else "") for f in families], fontsize=8)
        ax.set_ylabel("time simulated before failure (ps)")
        ax.set_title(f"Langevin MD at {t:g} K (hatched: failed; * held out)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, tight=False)


def _plot_structure(plan: PolyGETPlan, results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = min(plan.md_temperatures)
    trained = [f for f in results["families"] if f not in plan.held_out]
    chosen = [f for f in (trained[:1] + list(plan.held_out[:1]))]
    data, info = read_dataset(plan.data), read_frame_info(plan.data)
    fig, axes = plt.subplots(len(chosen), 3, figsize=(14, 3.4 * len(chosen)), squeeze=False)
    for row, f in zip(axes, chosen):
        idx = np.flatnonzero(
            (info["family"] == f)
            & (info["n_units"] == plan.train_units)
            & (info["temperature"] == t)
        )
        if not idx.size:
            continue
        n = int(data.n_atoms[idx[0]])
        ref = np.stack([data.positions[data.frame_slice(k)] for k in idx]).reshape(-1, n, 3)
        start = data.to_atoms(int(idx[0]))
        bonds = covalent_bonds(start.numbers, start.get_all_distances())
        triples = bonded_angles(bonds, n)
        series = {"xTB MD": ref}
        for m in results["forces"]:
            traj = Path(plan.out) / "md" / f"{m}.npz"
            if traj.is_file():
                with np.load(traj) as saved:
                    if len(saved[f"{f}_{t:g}K"]):
                        series[m] = saved[f"{f}_{t:g}K"]
        for ax, (title, fn, bins) in zip(
            row,
            (
                ("bond length (Å)", partial(bond_lengths, bonds=bonds), np.linspace(0.9, 1.9, 80)),
                ("bond angle (°)", partial(bond_angles, triples=triples), np.linspace(80, 140, 80)),
                ("pair distance (Å)", pair_distances, np.linspace(0.8, 10, 120)),
            ),
        ):
            for label, pos in series.items():
                ax.hist(fn(pos).ravel(), bins=bins, density=True, histtype="step", label=label)
            ax.set_xlabel(title)
            ax.set_title(f"{f}{' (held out)' if f in plan.held_out else ''}, {t:g} K")
        row[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, tight=False)


def write_report(plan: PolyGETPlan, results: dict[str, Any]) -> dict[str, Path]:
    """Write ``results.json``, ``table.md``, ``forces.png``, ``md.png`` and ``structure.png``
    into ``plan.out``; returns their paths."""

    out = Path(plan.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "results": out / "results.json",
        "table": out / "table.md",
        "forces": out / "forces.png",
        "md": out / "md.png",
        "structure": out / "structure.png",
    }
    atomic_write_json(paths["results"], {**results, "summary": summarize(results)})
    paths["table"].write_text(table(results))
    _plot_forces(results, paths["forces"])
    _plot_md(results, paths["md"])
    _plot_structure(plan, results, paths["structure"])
    return paths
