"""Overview figure of a generated rigid-body dataset (matplotlib, Agg backend), written atomically
as PNG."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from noether.core.io import save_figure
from noether.sims.rigid.scenes import quaternion_matrices


def rigid_overview(dataset, path: str | os.PathLike, n_scenes: int = 200) -> Path:
    """Side view of one scene's motion, the mean energy per frame and the body-count histogram.

    ``dataset`` is a :class:`noether.sims.rigid.shards.RigidShards`; the first ``n_scenes`` are used.
    """
    cfg = dataset.config
    scenes = [dataset[i] for i in range(min(n_scenes, len(dataset)))]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    ax = axes[0]
    s = scenes[0]
    for b in range(int(s["n_bodies"])):
        colour = f"C{b}"
        ax.plot(s["position"][:, b, 0], s["position"][:, b, 2], color=colour, lw=1)
        for f, marker in ((0, "o"), (-1, "s")):
            ax.scatter(
                s["points"][f, b, :, 0], s["points"][f, b, :, 2], s=6, color=colour, marker=marker
            )
    ax.axhline(0.0, color="k", lw=1)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("z (m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title("scene 0, side view: hull points at the first (o) and last (s) frame")

    ax = axes[1]
    g = np.asarray(scenes[0]["gravity"])
    frame_time = cfg["timestep"] * cfg["steps_per_frame"]
    t = frame_time * np.arange(cfg["n_frames"])
    kinetic, potential = [], []
    for s in scenes:
        m = s["mass"].astype(np.float64)
        rot = quaternion_matrices(s["quaternion"].astype(np.float64))
        inertia = np.einsum("fnij,njk,fnlk->fnil", rot, s["inertia"], rot)
        w = s["angular_velocity"].astype(np.float64)
        ke = 0.5 * np.einsum("n,fnk,fnk->f", m, s["velocity"], s["velocity"])
        ke = ke + 0.5 * np.einsum("fni,fnij,fnj->f", w, inertia, w)
        kinetic.append(ke)
        potential.append(-np.einsum("n,fnk,k->f", m, s["position"], g))
    kinetic, potential = np.mean(kinetic, axis=0), np.mean(potential, axis=0)
    ax.plot(t, kinetic, label="kinetic")
    ax.plot(t, potential, label="potential (gravity)")
    ax.plot(t, kinetic + potential, label="total", color="k")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mean energy per scene (J)")
    ax.set_title("energy: free fall conserves it, contacts dissipate it")
    ax.legend(fontsize=8)

    ax = axes[2]
    counts = np.array([int(s["n_bodies"]) for s in scenes])
    values, freq = np.unique(counts, return_counts=True)
    ax.bar(values, freq, color="C2")
    ax.set_xlabel("bodies per scene")
    ax.set_ylabel("scenes")
    ax.set_title(f"{len(scenes)} scenes, {cfg['points_per_body']} surface points per body")
    fig.suptitle(
        f"rigid-body dataset: {len(dataset)} scenes, {cfg['n_frames']} frames "
        f"{frame_time:g} s apart, gravity {tuple(float(v) for v in g)} m/s^2"
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)
