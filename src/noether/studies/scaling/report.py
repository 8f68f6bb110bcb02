"""The end of a sweep: ``fits.json``, ``points.csv``, the plots and a summary on the console."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from noether.core.io import atomic_write_json, atomic_write_text
from noether.studies.scaling.analysis import analyse, baselines
from noether.studies.scaling.plan import FAMILIES, SweepSpec
from noether.studies.scaling.plots import plot_all
from noether.studies.scaling.run import collect

__all__ = ["finish", "summary"]

_COLUMNS = (
    "point",
    "family",
    "size",
    "params",
    "steps",
    "scenes",
    "epochs",
    "test_mse",
    "test_mse_moved",
    "train_seconds",
)


def _points_csv(results: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*_COLUMNS, "compute_dense", "compute_structured"])
    for r in results:
        writer.writerow(
            [r[c] for c in _COLUMNS] + [r["compute"]["dense"], r["compute"]["structured"]]
        )
    return out.getvalue()


def _interval(fit: dict, key: str) -> str:
    if key not in fit:
        return "n/a"
    v = fit[key]
    return f"{v['value']:.3g} [{v['low']:.3g}, {v['high']:.3g}]"


def summary(fits: dict) -> str:
    """A plain-text table of the fitted exponents per family."""
    lines = [
        f"loss: {fits['loss']}; baselines: "
        + ", ".join(f"{k} {v:.3g}" for k, v in fits.get("baselines", {}).items()),
        f"{'family':<17}{'axis':<11}{'best':>8}  {'alpha (L ~ C^-alpha)':<26}"
        f"{'N* ~ C^a':<24}{'S* ~ C^b':<24}",
    ]
    for family, entry in fits["families"].items():
        for axis in ("structured", "dense") if family == "gatr" else ("structured",):
            law = entry.get("compute_law", {}).get(axis, {})
            opt = entry.get("compute_optimal", {}).get(axis, {})
            lines.append(
                f"{family:<17}{axis:<11}{entry.get('best_test_mse', float('nan')):>8.3g}  "
                f"{_interval(law, 'alpha'):<26}{_interval(opt, 'a'):<24}{_interval(opt, 'b'):<24}"
            )
    lines.append("joint law L(N, D) = E + A N^-alpha + B D^-beta:")
    for family, entry in fits["families"].items():
        joint = entry.get("joint_law", {})
        lines.append(
            f"  {family:<17} alpha {_interval(joint, 'alpha')}, beta {_interval(joint, 'beta')}, "
            f"E {_interval(joint, 'E')}"
        )
    lines.append("data law L(D) = a D^-alpha (D scenes):")
    for family, entry in fits["families"].items():
        lines.append(f"  {family:<17} alpha {_interval(entry.get('data_law', {}), 'alpha')}")
    return "\n".join(lines)


def finish(sweep: Path, spec: SweepSpec, data: Path, *, n_boot: int = 500) -> dict:
    """Fit, plot and write the results of every finished point; returns the fits."""
    results = collect(sweep)
    if not results:
        raise ValueError(f"{sweep} has no finished points to fit")
    fits = analyse(results, spec, n_boot=n_boot, base=baselines(data, spec))
    fits["labels"] = {f: FAMILIES[f]["label"] for f in spec.families}
    atomic_write_json(sweep / "fits.json", fits)
    atomic_write_text(sweep / "points.csv", _points_csv(results))
    plots = plot_all(fits, results, spec, sweep)
    text = summary(fits)
    atomic_write_text(sweep / "summary.txt", text + "\n")
    print(text)
    print(
        f"wrote {sweep / 'fits.json'}, {sweep / 'points.csv'}, " + ", ".join(p.name for p in plots)
    )
    return fits
