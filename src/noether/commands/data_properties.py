"""`noether data properties`: QM9-style molecular properties from GFN2-xTB (gap, dipole, energy).

Small organic molecules from SMILES (the built-in QM9-like list by default), RDKit conformers,
tblite single points. Writes a :class:`noether.atoms.properties.PropertyDataset` npz and a PNG of
the target distributions.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from noether.atoms.properties.xtb import SMALL_MOLECULES, xtb_properties
from noether.commands.options import (
    add_common_options,
    add_options,
    config_from_args,
    refuse_overwrite,
)
from noether.core.io import save_figure
from noether.core.progress import Progress


@dataclass(frozen=True)
class PropertiesJob:
    """Which molecules ``noether data properties`` computes, and where it writes them.

    Attributes:
        smiles: SMILES of the molecules; none: the built-in QM9-like list.
        conformers: conformers per molecule.
        jitter: displacement (Å) of conformers 1 and up.
        method: tblite method.
        seed: random seed.
        out: output npz.
    """

    smiles: tuple[str, ...] | None = None
    conformers: int = 4
    jitter: float = 0.05
    method: str = "GFN2-xTB"
    seed: int = 0
    out: str = "data/properties.npz"

    def __post_init__(self) -> None:
        if self.conformers < 1:
            raise ValueError(f"conformers must be at least 1, got {self.conformers}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PropertiesJob)
    add_common_options(parser)


def main(args: argparse.Namespace) -> int:
    # tblite's OpenMP threads must be one per process. torch is loaded by now, and tblite shares
    # its OpenMP runtime, so set the running thread's count too, not only the environment.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    job = config_from_args(args, PropertiesJob)
    png = Path(job.out).with_suffix(".png")
    refuse_overwrite(args, job.out, png)
    smiles = list(job.smiles) if job.smiles else SMALL_MOLECULES
    start = time.perf_counter()
    total = len(smiles) * job.conformers
    with Progress(total, desc="xTB", unit="mol", enabled=args.progress) as bar:
        # A SMILES RDKit or xTB refuses is a ValueError: one line and status 2 (noether.cli).
        data = xtb_properties(
            smiles, job.conformers, jitter=job.jitter, seed=job.seed,
            method=job.method, progress=bar.update,
        )  # fmt: skip
    out = data.save(job.out)
    _plot(data, png)
    print(
        f"{len(data)} molecules ({len(smiles)} SMILES x {job.conformers}) in "
        f"{time.perf_counter() - start:.1f} s -> {out}, {png}"
    )
    for name, values in data.targets.items():
        print(
            f"  {name:7s} mean {values.mean():10.4f}  std {values.std():8.4f}  {data.units[name]}"
        )
    return 0


def _plot(data, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data.targets)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8))
    for ax, name in zip(axes, names):
        ax.hist(data.targets[name], bins=40, color="tab:blue")
        ax.set_xlabel(f"{name} ({data.units[name]})")
    axes[0].set_ylabel("molecules")
    fig.suptitle(f"GFN2-xTB properties of {len(data)} molecules")
    fig.tight_layout()
    save_figure(fig, path, dpi=110, tight=False)
