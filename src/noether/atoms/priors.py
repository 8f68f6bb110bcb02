"""Per-element reference energies (an atom-wise prior), kept apart from the learned model.

A potential's atom-wise energy is ``model + AtomRef[z]``; fitting the reference energies by least
squares on the training set first leaves the model only the binding part to learn.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from noether.atoms.dataset import AtomsDataset
from noether.atoms.elements import MAX_Z

__all__ = ["AtomRef", "fit_atomref"]


class AtomRef(nn.Module):
    """Atom-wise reference energies ``energies[z]`` in eV (zero until set or fitted).

    ``forward(numbers (n,)) -> (n,)`` eV.
    """

    def __init__(self, energies: Tensor | np.ndarray | None = None):
        super().__init__()
        table = torch.zeros(MAX_Z + 1, dtype=torch.float64)
        if energies is not None:
            energies = torch.as_tensor(energies, dtype=torch.float64)
            if energies.shape != (MAX_Z + 1,):
                raise ValueError(
                    f"energies must have shape ({MAX_Z + 1},), got {tuple(energies.shape)}"
                )
            table = energies
        self.register_buffer("energies", table)  # float64 until the model is cast

    def forward(self, numbers: Tensor) -> Tensor:
        return self.energies[numbers]

    def set(self, energies: Tensor | np.ndarray) -> None:
        """Replace the table with ``energies (119,)`` eV (index = atomic number)."""
        self.energies.copy_(torch.as_tensor(energies, dtype=self.energies.dtype))


def fit_atomref(dataset: AtomsDataset, indices: np.ndarray | None = None) -> np.ndarray:
    """Least-squares reference energies ``(119,)`` eV from the frames' element counts.

    Solves ``E_k ≈ Σ_z count_k(z) e_z`` over the labelled frames (minimum-norm solution when
    the compositions do not determine every element, for example a single molecule).
    """
    ds = dataset if indices is None else dataset.subset(indices)
    mask = ds.label_mask("energy")
    if not mask.any():
        raise ValueError(f"{ds.source or 'dataset'}: no frame has an energy; cannot fit AtomRef")
    frame = np.repeat(np.arange(len(ds)), ds.n_atoms)
    counts = np.zeros((len(ds), MAX_Z + 1))
    np.add.at(counts, (frame, ds.numbers), 1.0)
    counts, energy = counts[mask], ds.energy[mask]
    present = counts.any(axis=0)
    solution, *_ = np.linalg.lstsq(counts[:, present], energy, rcond=None)
    out = np.zeros(MAX_Z + 1)
    out[present] = solution
    return out
