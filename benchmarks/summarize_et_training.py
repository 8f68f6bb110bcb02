"""Summarise many runs of ``bench_et_training.py``: per molecule, both codes over their seeds.

Each run folder holds a ``results.json`` (one or both codes) and a ``torchmdnet.yaml`` (its
``seed`` is the training seed of both codes). The molecule is the ``data`` entry of
``results.json`` when present, else the folder name up to ``-s<seed>`` (as in
``runs/bench-et-training/malonaldehyde-s3-noether``). Printed per molecule: the number of seeds,
the mean force MAE of each code with its standard error, the ratio of the means, the mean of the
per-seed differences where both codes ran a seed, how many of those seeds ours won, and Welch's
one-sided p-value for "ours is worse" (small means ours is worse beyond the seed noise). A PNG
shows each seed's force MAE of both codes; ``--curves`` another the validation force MAE per
epoch of both codes (mean and range over the seeds), read from each run's ``metrics.csv``.

    python benchmarks/summarize_et_training.py runs/bench-et-training/*-s*-* \\
        --plot runs/bench-et-training/seeds.png --curves runs/bench-et-training/curves.png
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from noether.core.io import save_figure
from noether.train.csv_log import read_metrics

LABEL = {"noether": "noether ET", "torchmdnet": "torchmd-net ET"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def read_run(folder: Path) -> tuple[str, int, dict[str, dict]] | None:
    """``(molecule, seed, {code: results})`` of one run folder, or None if it has no results."""
    results_path = folder / "results.json"
    if not results_path.exists():
        return None
    results = json.loads(results_path.read_text())
    meta = results.pop("meta", {})
    seed = meta.get("train_seed")
    if seed is None:
        seed = int(yaml.safe_load((folder / "torchmdnet.yaml").read_text())["seed"])
    molecule = Path(meta["data"]).stem if "data" in meta else None
    if molecule is None:
        match = re.match(r"(.+)-s\d+(-.*)?$", folder.name)
        if match is None:
            raise SystemExit(
                f"{folder}: no 'data' in results.json and the name is not <molecule>-s<seed>[-...]"
            )
        molecule = match.group(1)
    return molecule, int(seed), results


def collect(folders: list[Path]) -> dict[str, dict[str, dict[int, float]]]:
    """``{molecule: {code: {seed: force MAE (meV/Å)}}}``; of a seed run twice with different
    results, the later folder is kept (and a note printed)."""
    table: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for folder in folders:
        run = read_run(folder)
        if run is None:
            continue
        molecule, seed, results = run
        for code, row in results.items():
            value = float(row["forces_mae_meV_per_A"])
            seen = table[molecule][code].get(seed)
            if seen is not None and seen != value:
                print(
                    f"note: {molecule} {code} seed {seed} twice ({seen:.2f}, {value:.2f}); "
                    f"kept {folder}",
                    file=sys.stderr,
                )
            table[molecule][code][seed] = value
    return table


def summarise(per_code: dict[str, dict[int, float]]) -> dict[str, float]:
    """Means, standard errors, paired differences and Welch's one-sided p for one molecule."""
    ours = np.array(list(per_code.get("noether", {}).values()))
    peer = np.array(list(per_code.get("torchmdnet", {}).values()))
    out: dict[str, float] = {"n_ours": len(ours), "n_peer": len(peer)}
    for name, x in (("ours", ours), ("peer", peer)):
        out[f"mean_{name}"] = float(x.mean()) if len(x) else float("nan")
        out[f"se_{name}"] = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    out["ratio"] = out["mean_ours"] / out["mean_peer"] - 1.0
    shared = sorted(set(per_code.get("noether", {})) & set(per_code.get("torchmdnet", {})))
    diff = np.array([per_code["noether"][s] - per_code["torchmdnet"][s] for s in shared])
    out["n_paired"] = len(shared)
    out["mean_diff"] = float(diff.mean()) if len(diff) else float("nan")
    out["ours_wins"] = int((diff < 0).sum())
    if len(ours) > 1 and len(peer) > 1:
        out["p_worse"] = float(
            stats.ttest_ind(ours, peer, equal_var=False, alternative="greater").pvalue
        )
    else:
        out["p_worse"] = float("nan")
    return out


def plot(table: dict[str, dict[str, dict[int, float]]], path: Path) -> None:
    plt = _pyplot()
    molecules = sorted(table)
    fig, ax = plt.subplots(figsize=(1.2 * len(molecules) + 4, 4))
    for i, molecule in enumerate(molecules):
        for shift, code, colour in ((-0.15, "noether", "C0"), (0.15, "torchmdnet", "C1")):
            values = list(table[molecule].get(code, {}).values())
            if not values:
                continue
            ax.scatter(
                np.full(len(values), i + shift),
                values,
                color=colour,
                s=14,
                alpha=0.7,
                label=LABEL[code] if i == 0 else None,
            )
            ax.hlines(np.mean(values), i + shift - 0.12, i + shift + 0.12, color=colour, lw=2)
    ax.set_xticks(range(len(molecules)), molecules, rotation=30, ha="right")
    ax.set_ylabel("test force MAE (meV/Å)")
    ax.set_title("ET on the same frames and split: one point per training seed, bar = mean")
    ax.legend()
    save_figure(fig, path)
    plt.close(fig)


def validation_curve(folder: Path, code: str) -> np.ndarray | None:
    """Validation force MAE (meV/Å) per epoch of one code's run in ``folder``, or None."""
    key, factor = ("val/forces_mae", 1.0) if code == "noether" else ("val_neg_dy_l1_loss", 1e3)
    by_epoch = {
        int(row["epoch"]): factor * row[key]
        for row in read_metrics(folder / code / "metrics.csv")
        if key in row and "epoch" in row
    }
    return np.array([by_epoch[e] for e in sorted(by_epoch)]) if by_epoch else None


def plot_curves(folders: list[Path], path: Path) -> None:
    """Per molecule: the validation force MAE per epoch of both codes, mean and range over seeds."""
    plt = _pyplot()
    curves: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    for folder in folders:
        run = read_run(folder)
        if run is None:
            continue
        for code in run[2]:
            curve = validation_curve(folder, code)
            if curve is not None:
                curves[run[0]][code].append(curve)
    molecules = sorted(curves)
    if not molecules:
        raise SystemExit("no metrics.csv in the given folders")
    fig, axes = plt.subplots(1, len(molecules), figsize=(4 * len(molecules), 3.4), squeeze=False)
    for ax, molecule in zip(axes[0], molecules, strict=True):
        for code, colour in (("noether", "C0"), ("torchmdnet", "C1")):
            runs = curves[molecule].get(code)
            if not runs:
                continue
            n = min(len(c) for c in runs)
            stack = np.stack([c[:n] for c in runs])
            epochs = np.arange(1, n + 1)
            ax.plot(epochs, stack.mean(0), color=colour, label=f"{LABEL[code]} ({len(runs)} seeds)")
            ax.fill_between(epochs, stack.min(0), stack.max(0), color=colour, alpha=0.15)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(molecule)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("validation force MAE (meV/Å)")
    save_figure(fig, path)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of bench_et_training.py")
    parser.add_argument("--plot", type=Path, default=None, help="write the per-seed PNG here")
    parser.add_argument("--curves", type=Path, default=None, help="write the curves PNG here")
    args = parser.parse_args()
    folders = [p for p in args.runs if p.is_dir()]
    table = collect(folders)
    if not table:
        raise SystemExit("no results.json in the given folders")
    print(
        "| molecule | seeds (ours/peer) | ours force MAE (meV/Å) | torchmd-net force MAE (meV/Å) "
        "| ours vs peer | paired mean difference | seeds ours better | p (ours worse) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ratios = []
    for molecule in sorted(table):
        s = summarise(table[molecule])
        ratios.append(s["ratio"])
        print(
            f"| {molecule} | {s['n_ours']}/{s['n_peer']} | {s['mean_ours']:.2f} ± {s['se_ours']:.2f} "
            f"| {s['mean_peer']:.2f} ± {s['se_peer']:.2f} | {100 * s['ratio']:+.1f} % "
            f"| {s['mean_diff']:+.2f} | {s['ours_wins']}/{s['n_paired']} | {s['p_worse']:.2f} |"
        )
    print(f"mean over molecules of (ours / peer - 1): {100 * np.nanmean(ratios):+.1f} %")
    if args.plot is not None:
        plot(table, args.plot)
        print(f"wrote {args.plot}")
    if args.curves is not None:
        plot_curves(folders, args.curves)
        print(f"wrote {args.curves}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
