"""Small models and systems shared by the LAMMPS tests (test_lammps.py, test_lammps_engine.py)."""

import numpy as np
import torch
from ase import Atoms
from ase.build import molecule

from noether.atoms.models.equiformer import Equiformer
from noether.atoms.models.et import ET
from noether.atoms.reference import Morse


def strong(model: torch.nn.Module) -> torch.nn.Module:
    """Widen a fresh model's weights (seeded): at initialisation a deep ET couples distant atoms
    weakly (its third hop moves an energy by 1e-12 eV), which would hide a missing hop."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return model.eval()


def tiny_models():
    torch.manual_seed(0)
    return {
        "et": ET(hidden=16, heads=2, layers=2, num_rbf=8, cutoff=2.5, dtype=torch.float64),
        "et-no-neighbor-embedding": ET(
            hidden=16, heads=2, layers=2, num_rbf=8, cutoff=2.5, neighbor_embedding=False,
            dtype=torch.float64,
        ),
        "equiformer": Equiformer(
            irreps_node="8x0e+4x1e", irreps_head="4x0e+2x1e", num_heads=2,
            irreps_mlp_mid="8x0e+4x1e", irreps_feature="8x0e", num_layers=1, num_basis=8,
            radial_hidden=[16], cutoff=2.5, dtype="float64",
        ),
        "morse": Morse(dtype="float64"),
    }  # fmt: skip


def water_box(n: int, length: float, seed: int = 0) -> Atoms:
    rng = np.random.default_rng(seed)
    atoms = Atoms(cell=[length] * 3, pbc=True)
    while len(atoms) < 3 * n:
        m = molecule("H2O")
        m.rotate(rng.uniform(0, 360), rng.normal(size=3), center="COM")
        m.translate(rng.uniform(0, length, 3) - m.get_center_of_mass())
        trial = atoms + m
        if len(atoms) == 0 or trial.get_all_distances(mic=True)[-3:, :-3].min() > 1.6:
            atoms = trial
    return atoms


def chains(cutoff: float) -> Atoms:
    """Periodic straight chains of atoms 0.8 cutoff apart, the chains 1.6 cutoff apart: the
    third neighbour along a chain is 2.4 cutoffs away, beyond a two-hop pair cutoff."""
    spacing = 0.8 * cutoff
    atoms = Atoms(
        "HCOC", positions=[[k * spacing, 0.0, 0.0] for k in range(4)],
        cell=[4 * spacing, 2 * spacing, 2 * spacing], pbc=True,
    )  # fmt: skip
    atoms.rattle(0.05, seed=2)
    return atoms
