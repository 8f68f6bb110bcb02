"""Everything atomistic: datasets and formats, neighbour lists, the Potential API, ASE and MD.

Units at every public boundary are eV, Å, fs (eV/Å for forces, eV/Å³ for stress).
"""

from noether.atoms.batch import AtomsBatch, collate_atoms
from noether.atoms.dataset import AtomsDataset, AtomsSample
from noether.atoms.neighbors import neighbor_list
from noether.atoms.potential import Graph, Potential, as_dtype
from noether.atoms.priors import AtomRef, fit_atomref
from noether.atoms.splits import load_splits, make_splits, save_splits
from noether.atoms.standardize import ScaleShift, energy_statistics

__all__ = [
    "AtomRef",
    "AtomsBatch",
    "AtomsDataset",
    "AtomsSample",
    "Graph",
    "Potential",
    "ScaleShift",
    "as_dtype",
    "collate_atoms",
    "energy_statistics",
    "fit_atomref",
    "load_splits",
    "make_splits",
    "neighbor_list",
    "save_splits",
]
