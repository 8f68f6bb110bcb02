"""Overview figure of a generated n-body dataset (matplotlib, Agg backend), written atomically as PNG."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from noether.core.io import save_figure
from noether.sims.nbody import gravity


def nbody_overview(splits: dict, meta: dict, path: str | os.PathLike, n_examples: int = 3) -> Path:
    """Trajectories of a few test systems (x-y projection), the energy drift and the step counts."""
    cfg = meta["config"]
    test = splits["test"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    ax = axes[0]
    segments = 50
    for k in range(min(n_examples, len(test["masses"]))):
        m, x, v = (test[a][k : k + 1] for a in ("masses", "x_initial", "v_initial"))
        steps = max(1, int(test["n_steps"][k]) // segments)
        path_x = [x[0]]
        for _ in range(segments):
            x, v = gravity.integrate(
                x,
                v,
                m,
                cfg["time"] / segments,
                steps,
                softening=cfg["softening"],
                scheme=cfg["scheme"],
            )
            path_x.append(x[0])
        track = np.stack(path_x)  # (segments + 1, bodies, 3)
        colour = f"C{k}"
        for b in range(track.shape[1]):
            ax.plot(track[:, b, 0], track[:, b, 1], color=colour, lw=1)
        size = 12 + 30 * np.log10(m[0] / m[0].min() + 1)
        ax.scatter(
            track[0, :, 0], track[0, :, 1], s=size, color=colour, marker="o", label=f"system {k}"
        )
        ax.scatter(test["x_final"][k, :, 0], test["x_final"][k, :, 1], s=30, color="k", marker="x")
    ax.set_title("test systems: start (o), target (x), path")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=8)

    ax = axes[1]
    drift = np.log10(np.maximum(splits["train"]["energy_error"], 1e-17))
    ax.hist(drift, bins=60, color="C0")
    ax.set_xlabel("log10 relative energy drift |E(T) - E(0)| / |E(0)|")
    ax.set_ylabel("train systems")
    eq = meta["equivariance_error"]
    ax.set_title(
        f"energy drift (max {10 ** drift.max():.1e}); simulator equivariance\n"
        f"rotation {eq['rotation']:.1e}, translation {eq['translation']:.1e}"
    )

    ax = axes[2]
    counts = splits["train"]["n_steps"]
    levels, freq = np.unique(counts, return_counts=True)
    ax.bar([str(c) for c in levels], freq, color="C1")
    ax.set_yscale("log")
    ax.set_xlabel("integrator steps (step doubling until converged)")
    ax.set_ylabel("train systems")
    ax.set_title(f"{cfg['scheme']}, softening {cfg['softening']:g}, tolerance {cfg['tolerance']:g}")
    fig.suptitle(
        f"n-body dataset: {meta['sizes']['train']} train systems of {meta['bodies']['train']} bodies, "
        f"time {cfg['time']:g}, {meta['systems_per_second']:.0f} systems/s"
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)
