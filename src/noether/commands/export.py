"""`noether export`: a trained potential to one self-contained ``.pt2`` file (torch.export).

The file runs without noether (see docs/atoms.md) and loads into ``NoetherCalculator``. The command
checks that the exported program reproduces the model's energy and forces on a test structure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from noether.atoms.calculator import load_model
from noether.atoms.export import export_potential, load_exported
from noether.atoms.molecules import build_molecule
from noether.atoms.potential import Potential
from noether.commands.options import add_common_options, refuse_overwrite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a training run folder, a .ckpt or a save_potential file")
    parser.add_argument("out", help="the .pt2 file to write")
    parser.add_argument(
        "--structure",
        help="a periodic structure (any file ASE reads) whose cell the model will run on; "
        "omit for molecules",
    )
    parser.add_argument(
        "--molecule", default="ethanol", help="test molecule when not periodic (default: ethanol)"
    )
    add_common_options(parser, progress=False)


def main(args: argparse.Namespace) -> int:
    # Errors a user can cause (a missing or corrupt file, a bad molecule) are ValueError or
    # OSError: noether.cli prints them as one line with status 2.
    out = Path(args.out).with_suffix(".pt2")
    refuse_overwrite(args, out)
    model = load_model(args.model)
    if args.structure:
        from ase.io import read

        atoms = read(args.structure, index=0)
    else:
        atoms = build_molecule(args.molecule)[1]
    if not isinstance(model, Potential):
        raise ValueError(f"{args.model} is not a noether Potential")
    periodic = bool(atoms.pbc.any())
    dtype = model.dtype
    cell = torch.tensor(atoms.cell[:], dtype=dtype) if periodic else None
    pbc = torch.tensor(atoms.pbc) if periodic else None
    export_potential(model, out, cell=cell, pbc=pbc)
    exported = load_exported(out)
    numbers = torch.tensor(atoms.numbers)
    positions = torch.tensor(atoms.positions, dtype=dtype)
    a = model.eval()(numbers, positions, None, cell, pbc)
    b = exported(numbers, positions, None, cell, pbc)
    de = float((a["energy"] - b["energy"]).abs().max())
    df = float((a["forces"] - b["forces"]).abs().max())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {dtype}, cutoff {model.cutoff} Å)")
    print(f"  check on {len(atoms)} atoms: |ΔE| = {de:.2e} eV, max |ΔF| = {df:.2e} eV/Å")
    tolerance = 1e-9 if dtype == torch.float64 else 1e-4
    return 0 if max(de, df) <= tolerance * max(1.0, float(a["energy"].abs().max())) else 1
