"""Molecular properties (QM9-style): a dataset of molecules with graph-level targets, a reader of
the public QM9 files, GFN2-xTB reference data from SMILES, and the ``properties`` training task."""

from noether.atoms.properties.dataset import PropertyDataset
from noether.atoms.properties.qm9 import QM9_TARGETS, read_qm9, read_qm9_xyz

__all__ = ["QM9_TARGETS", "PropertyDataset", "read_qm9", "read_qm9_xyz"]
