"""`noether export`: a trained potential to a file another program runs.

``--target pt2`` (default): one self-contained ``.pt2`` file (torch.export) that runs without
noether (see docs/atoms.md) and loads into ``NoetherCalculator``. ``--target lammps``: the pickled
ML-IAP unified model that ``pair_style mliap unified FILE 0`` loads (see docs/lammps.md). The
command checks that the written file reproduces the model's energy and forces on a test structure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from noether.atoms.calculator import load_model
from noether.atoms.export import export_potential, load_exported
from noether.atoms.lammps import (
    domain_pairs,
    energy_from_pairs,
    load_lammps,
    pair_forces,
    write_lammps,
)
from noether.atoms.molecules import build_molecule
from noether.atoms.potential import Potential
from noether.commands.options import add_common_options, refuse_overwrite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a training run folder, a .ckpt or a save_potential file")
    parser.add_argument("out", help="the file to write (.pt2; for --target lammps, e.g. .pkl)")
    parser.add_argument(
        "--target",
        choices=("pt2", "lammps"),
        default="pt2",
        help="pt2: torch.export program; lammps: ML-IAP unified model for pair_style mliap "
        "unified (default: pt2)",
    )
    parser.add_argument(
        "--elements",
        help="lammps: comma-separated element names pair_coeff may use (default: every element "
        "the model accepts)",
    )
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
    out = Path(args.out)
    if args.target == "pt2":
        out = out.with_suffix(".pt2")
    refuse_overwrite(args, out)
    model = load_model(args.model)
    if args.structure:
        from ase.io import read

        atoms = read(args.structure, index=0)
    else:
        atoms = build_molecule(args.molecule)[1]
    if not isinstance(model, Potential):
        raise ValueError(f"{args.model} is not a noether Potential")
    if args.target == "lammps":
        return _lammps(model, out, atoms, args.elements)
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


def _lammps(model: Potential, out: Path, atoms, elements: str | None) -> int:
    names = [e.strip() for e in elements.split(",") if e.strip()] if elements else None
    write_lammps(model, out, names)
    # off symmetric points (a perfect crystal), where |v| = 0 in a model's vector features
    # makes forces depend on rounding
    atoms = atoms.copy()
    atoms.rattle(0.01, seed=0)
    unified = load_lammps(out)
    numbers, local, pair_i, pair_j, rij, owner = domain_pairs(atoms, 2.0 * unified.rcutfac)
    _, energy, fij = energy_from_pairs(unified.model, numbers, local, pair_i, pair_j, rij)
    forces = np.zeros((len(atoms), 3))  # each ghost's force goes to the atom it images
    np.add.at(forces, owner, pair_forces(fij, pair_i, pair_j, len(numbers)))
    periodic = bool(atoms.pbc.any())
    dtype = model.dtype
    cell = torch.tensor(atoms.cell[:], dtype=dtype) if periodic else None
    pbc = torch.tensor(atoms.pbc) if periodic else None
    ref = model.eval()(
        torch.tensor(atoms.numbers), torch.tensor(atoms.positions, dtype=dtype), None, cell, pbc
    )
    de = abs(energy - float(ref["energy"].sum()))
    df = float(np.abs(forces - ref["forces"].double().numpy()).max())
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {dtype}, pair_style mliap unified: "
        f"pair cutoff {2.0 * unified.rcutfac:g} Å = {unified.hops} hops x {model.cutoff:g} Å)"
    )
    print(f"  check on {len(atoms)} atoms: |ΔE| = {de:.2e} eV, max |ΔF| = {df:.2e} eV/Å")
    tolerance = 1e-9 if dtype == torch.float64 else 1e-4
    return 0 if max(de, df) <= tolerance * max(1.0, abs(energy)) else 1
