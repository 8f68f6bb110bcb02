"""Everything atomistic: datasets and formats, neighbour lists, the Potential API, ASE and MD.

Units at every public boundary are eV, Å, fs (eV/Å for forces, eV/Å³ for stress). The names a
user reaches first are here: ``from noether.atoms import NoetherCalculator, read_dataset``.
Importing this package does not load Lightning (a training run is rebuilt only when a
calculator is given a run folder or a ``.ckpt``).
"""

from noether.atoms.batch import AtomsBatch, collate_atoms
from noether.atoms.calculator import NoetherCalculator, load_model
from noether.atoms.checkpoint import load_potential, save_potential
from noether.atoms.dataset import AtomsDataset, AtomsSample
from noether.atoms.export import ExportedPotential, export_potential, load_exported
from noether.atoms.formats import read_dataset, write_dataset
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
    "ExportedPotential",
    "Graph",
    "NoetherCalculator",
    "Potential",
    "ScaleShift",
    "as_dtype",
    "collate_atoms",
    "energy_statistics",
    "export_potential",
    "fit_atomref",
    "load_exported",
    "load_model",
    "load_potential",
    "load_splits",
    "make_splits",
    "neighbor_list",
    "read_dataset",
    "save_potential",
    "save_splits",
    "write_dataset",
]
