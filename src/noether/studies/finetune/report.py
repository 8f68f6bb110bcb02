"""The fine-tuning study's table (``table.md``), ``results.json`` and figure (``finetune.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from noether.core.io import atomic_write_json, atomic_write_text, save_figure
from noether.studies.finetune.plan import FinetunePlan
from noether.train.csv_log import read_metrics

__all__ = ["summarize", "table", "write_report"]


def _by_arm(results: dict[str, Any]) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for run in results["runs"]:
        out.setdefault(run["arm"], {})[run["seed"]] = run
    return out


def summarize(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per arm: median test force MAE, energy MAE and time per step over the seeds, and (for the
    fine-tuned arms) in how many seeds it beat ``scratch`` on force MAE."""
    arms = _by_arm(results)
    scratch = arms.get("scratch", {})
    out = {}
    for arm, runs in arms.items():
        row = {
            key: float(np.median([r["test"][key] for r in runs.values()]))
            for key in ("force_mae", "force_rmse", "energy_mae")
        }
        row["step_ms"] = 1e3 * float(np.median([r["step_seconds_median"] for r in runs.values()]))
        if arm != "scratch" and scratch:
            paired = [s for s in runs if s in scratch]
            row["wins"] = sum(
                runs[s]["test"]["force_mae"] < scratch[s]["test"]["force_mae"] for s in paired
            )
            row["pairs"] = len(paired)
        out[arm] = row
    return out


def table(results: dict[str, Any]) -> str:
    """A Markdown table: force MAE per seed and medians, per arm."""
    plan = results["plan"]
    seeds = list(plan["seeds"])
    arms, summary = _by_arm(results), summarize(results)
    lrs = {"scratch": plan["lr"]}
    head = ["arm", "lr", *(f"seed {s}" for s in seeds), "median", "energy MAE (meV)", "ms/step"]
    lines = [
        "Test force MAE (meV/Å) on the independent trajectory "
        f"({results['source_before_finetuning']['test_frames']} frames of {plan['test']})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    before = results["source_before_finetuning"]
    lines.append(
        f"| source, not fine-tuned | | {' | '.join('' for _ in seeds)} | "
        f"{before['force_mae']:.1f} | | |"
    )
    for arm in plan["arms"]:
        runs, row = arms.get(arm, {}), summary.get(arm)
        if row is None:
            continue
        cells = [f"{runs[s]['test']['force_mae']:.1f}" if s in runs else "" for s in seeds]
        lr = lrs.get(arm, plan["finetune_lr"])
        lines.append(
            f"| {arm} | {lr:g} | {' | '.join(cells)} | **{row['force_mae']:.1f}** | "
            f"{row['energy_mae']:.1f} | {row['step_ms']:.0f} |"
        )
    lines.append("")
    for arm, row in summary.items():
        if "wins" in row:
            ratio = row["force_mae"] / summary["scratch"]["force_mae"]
            lines.append(
                f"- {arm}: median force MAE {ratio:.2f}x scratch's; lower than scratch in "
                f"{row['wins']} of {row['pairs']} seeds (same frames, same steps)"
            )
    lines.append("")
    lines.append(f"Command: `{results['command']}`")
    return "\n".join(lines) + "\n"


def _plot(plan: FinetunePlan, results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = _by_arm(results)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    fig.subplots_adjust(wspace=0.3)
    names = [a for a in plan.arms if a in arms]
    colors = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for k, arm in enumerate(names):
        values = [r["test"]["force_mae"] for r in arms[arm].values()]
        left.bar(k, np.median(values), color=colors[arm], alpha=0.4)
        left.scatter([k] * len(values), values, color=colors[arm], zorder=3)
        for seed, run in sorted(arms[arm].items()):
            rows = [r for r in read_metrics(Path(run["run_dir"]) / "metrics.csv")]
            points = [(r["step"], r["val/forces_mae"]) for r in rows if "val/forces_mae" in r]
            if points:
                steps, mae = zip(*points)
                right.plot(
                    steps,
                    mae,
                    color=colors[arm],
                    alpha=0.8,
                    label=arm if seed == min(arms[arm]) else None,
                )
    before = results["source_before_finetuning"]["force_mae"]
    left.axhline(before, color="gray", ls="--", label="source, not fine-tuned")
    left.set_xticks(range(len(names)), names)
    left.set_ylabel("test force MAE (meV/Å)")
    left.set_title(f"{plan.frames} frames of the new molecule, {plan.steps} steps")
    left.legend(loc="upper right")
    right.set_xlabel("optimiser step")
    right.set_ylabel("validation force MAE (meV/Å)")
    right.set_yscale("log")
    right.legend()
    right.set_title("learning curves (one line per seed)")
    return save_figure(fig, path)


def write_report(plan: FinetunePlan, results: dict[str, Any]) -> dict[str, Path]:
    out = Path(plan.out)
    paths = {
        "results": atomic_write_json(out / "results.json", results),
        "table": out / "table.md",
        "figure": out / "finetune.png",
    }
    atomic_write_text(paths["table"], table(results))
    _plot(plan, results, paths["figure"])
    return paths
