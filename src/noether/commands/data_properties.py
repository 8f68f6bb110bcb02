"""`noether data properties`: QM9-style molecular properties from GFN2-xTB (gap, dipole, energy).

Small organic molecules from SMILES (the built-in QM9-like list by default), RDKit conformers,
tblite single points. Writes a :class:`noether.atoms.properties.PropertyDataset` npz and a PNG of
the target distributions.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smiles", default=None, help="comma-separated SMILES (default: the built-in list)"
    )
    parser.add_argument("--conformers", type=int, default=4, help="conformers per molecule")
    parser.add_argument(
        "--jitter", type=float, default=0.05, help="displacement (Å) of conformers 1+"
    )
    parser.add_argument("--method", default="GFN2-xTB", help="tblite method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="data/properties.npz", help="output npz")


def main(args: argparse.Namespace) -> int:
    # tblite's OpenMP threads must be one per process, set before it loads.
    os.environ["OMP_NUM_THREADS"] = "1"
    from tqdm import tqdm

    from noether.atoms.properties.xtb import SMALL_MOLECULES, xtb_properties

    smiles = (
        [s.strip() for s in args.smiles.split(",") if s.strip()] if args.smiles else SMALL_MOLECULES
    )
    if args.conformers < 1:
        print(f"noether data properties: --conformers must be at least 1, got {args.conformers}")
        return 2
    start = time.perf_counter()
    with tqdm(total=len(smiles) * args.conformers, unit="mol", desc="xTB") as bar:
        try:
            data = xtb_properties(
                smiles, args.conformers, jitter=args.jitter, seed=args.seed,
                method=args.method, progress=bar.update,
            )  # fmt: skip
        except ValueError as err:
            print(f"noether data properties: {err}")
            return 2
    out = data.save(args.out)
    png = Path(out).with_suffix(".png")
    _plot(data, png)
    print(
        f"{len(data)} molecules ({len(smiles)} SMILES x {args.conformers}) in "
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

    from noether.core.io import atomic_path

    names = list(data.targets)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8))
    for ax, name in zip(axes, names):
        ax.hist(data.targets[name], bins=40, color="tab:blue")
        ax.set_xlabel(f"{name} ({data.units[name]})")
    axes[0].set_ylabel("molecules")
    fig.suptitle(f"GFN2-xTB properties of {len(data)} molecules")
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
