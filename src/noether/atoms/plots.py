"""PNG figures for atomistic runs (matplotlib, Agg backend): MD logs and dataset summaries."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from noether.atoms.dataset import AtomsDataset
from noether.atoms.md import MDResult
from noether.core.io import save_figure

__all__ = ["plot_dataset_summary", "plot_md"]


def _figure(rows: int, cols: int, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size, squeeze=False)


def plot_md(result: MDResult, path: str | os.PathLike, title: str = "") -> None:
    """Energies (per atom, shifted), temperature and the stability monitor against time.

    The total energy's drift is shown for NVE only: under a thermostat (Langevin) the energy is
    exchanged with the bath, so the temperature's mean and spread against the bath are shown."""
    fig, ax = _figure(1, 3, (13, 3.6))
    t = result.time_fs / 1000.0
    n = result.n_atoms
    e0 = result.total[0] if len(t) else 0.0
    label = "total"
    if result.conserves_energy and len(t) > 1:
        label = f"total (drift {result.drift:+.3g} meV/atom/ps)"
    ax[0, 0].plot(t, (result.total - e0) * 1e3 / n, label=label)
    ax[0, 0].plot(t, (result.potential - e0) * 1e3 / n, label="potential", alpha=0.6)
    ax[0, 0].set(xlabel="time (ps)", ylabel="E - E_tot(0) (meV/atom)")
    ax[0, 0].legend(fontsize=8)
    temperature = "temperature"
    if len(t):
        temperature = f"⟨T⟩ = {result.temperature.mean():.0f} ± {result.temperature.std():.0f} K"
    ax[0, 1].plot(t, result.temperature, label=temperature)
    if not result.conserves_energy and result.target_temperature is not None:
        ax[0, 1].axhline(
            result.target_temperature,
            color="k",
            ls="--",
            lw=0.8,
            label=f"bath {result.target_temperature:g} K",
        )
    ax[0, 1].set(xlabel="time (ps)", ylabel="temperature (K)")
    ax[0, 1].legend(fontsize=8)
    hist = result.history
    if hist.get("max_stretch"):
        m = min(len(t), len(hist["max_stretch"]))
        ax[0, 2].plot(t[:m], hist["max_stretch"][:m], label="largest bond change (Å)")
        ax[0, 2].plot(t[:m], hist["min_distance"][:m], label="closest approach (Å)")
        ax[0, 2].legend(fontsize=8)
    ax[0, 2].set(xlabel="time (ps)", title="stable" if result.stable else "UNSTABLE")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, tight=False)


def plot_dataset_summary(sets: Mapping[str, AtomsDataset], path: str | os.PathLike) -> None:
    """Per molecule: the energy distribution (meV/atom about the mean) and force magnitudes."""
    fig, ax = _figure(1, 2, (11, 4))
    for name, ds in sets.items():
        if ds.energy is not None:
            per_atom = ds.energy / ds.n_atoms
            ax[0, 0].hist((per_atom - per_atom.mean()) * 1e3, bins=50, histtype="step", label=name)
        if ds.forces is not None:
            ax[0, 1].hist(np.linalg.norm(ds.forces, axis=1), bins=60, histtype="step", label=name)
    ax[0, 0].set(xlabel="E/atom - mean (meV/atom)", ylabel="frames")
    ax[0, 1].set(xlabel="|F| (eV/Å)", ylabel="atoms", yscale="log")
    ax[0, 0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, tight=False)
