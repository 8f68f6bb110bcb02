"""Figures of a run: the learning curve and parity plots (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from lightning.pytorch.callbacks import Callback

from noether.core.io import save_figure
from noether.train.csv_log import read_metrics


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curve(metrics_csv: str | Path, path: str | Path) -> Path | None:
    """Loss against optimiser step (train per step and per-epoch mean, validation at epoch ends)
    on a log axis, and the learning rate below it. None if the CSV holds no loss yet."""
    rows = read_metrics(metrics_csv)
    train = [(r["step"], r["train/loss"], r.get("epoch", 0)) for r in rows if "train/loss" in r]
    val = [(r["step"], r["val/loss"]) for r in rows if "val/loss" in r]
    lr = [(r["step"], r["lr"]) for r in rows if "lr" in r]
    if not train and not val:
        return None
    plt = _pyplot()
    fig, (ax, ax_lr) = plt.subplots(
        2, 1, figsize=(7, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    if train:
        steps, losses, _ = (np.array(v) for v in zip(*train))
        ax.plot(steps, losses, color="tab:blue", alpha=0.3, lw=0.8, label="train (step)")
        by_epoch: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for s, value, e in train:
            by_epoch[int(e)].append((s, value))
        ends = [max(s for s, _ in v) for _, v in sorted(by_epoch.items())]
        means = [np.mean([value for _, value in v]) for _, v in sorted(by_epoch.items())]
        ax.plot(ends, means, "o-", color="tab:blue", ms=3, label="train (epoch mean)")
    if val:
        steps, losses = zip(*val)
        ax.plot(steps, losses, "s-", color="tab:orange", ms=3, label="validation")
    if all(value > 0 for _, value, *_ in train + val):
        ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    if lr:
        steps, rates = zip(*lr)
        ax_lr.plot(steps, rates, color="tab:green")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("optimiser step")
    ax_lr.grid(alpha=0.3)
    path = Path(path)
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot_parity(
    pred: np.ndarray,
    ref: np.ndarray,
    name: str,
    unit: str,
    path: str | Path,
    *,
    max_points: int = 20_000,
) -> Path:
    """Predicted against reference values of one quantity, with the line y = x, MAE and RMSE."""
    pred, ref = np.asarray(pred, dtype=float).ravel(), np.asarray(ref, dtype=float).ravel()
    err = pred - ref
    mae, rmse = np.abs(err).mean(), np.sqrt((err**2).mean())
    if pred.size > max_points:  # draw a fixed random subset; the errors use every point
        keep = np.random.default_rng(0).choice(pred.size, max_points, replace=False)
        pred, ref = pred[keep], ref[keep]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    lo, hi = float(min(pred.min(), ref.min())), float(max(pred.max(), ref.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.8)
    suffix = f" {unit}" if unit else ""
    ax.scatter(ref, pred, s=4, alpha=0.5, label=f"MAE {mae:.3g}{suffix}\nRMSE {rmse:.3g}{suffix}")
    label = f"{name} [{unit}]" if unit else name
    ax.set_xlabel(f"reference {label}")
    ax.set_ylabel(f"predicted {label}")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    path = Path(path)
    save_figure(fig, path)
    plt.close(fig)
    return path


class CurvePlotter(Callback):
    """Redraw the learning curve after validation at most every ``every_s`` seconds, and at the
    end of training."""

    def __init__(self, metrics_csv: str | Path, path: str | Path, every_s: float = 30.0) -> None:
        self.metrics_csv, self.path, self.every_s = Path(metrics_csv), Path(path), every_s
        self._clock = time.monotonic
        self._last = self._clock()

    def _draw(self, trainer) -> None:
        if trainer.is_global_zero:
            plot_learning_curve(self.metrics_csv, self.path)
        self._last = self._clock()

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking and self._clock() - self._last >= self.every_s:
            self._draw(trainer)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._draw(trainer)
