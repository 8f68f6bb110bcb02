"""Physical priors kept apart from the learned model: per-element reference energies and ZBL.

A potential's atom-wise energy is ``model + AtomRef[z] + Σ priors`` (:class:`Potential`). Fitting
the reference energies by least squares on the training set first leaves the model only the
binding part to learn. :class:`ZBL` adds the screened nuclear repulsion of Ziegler, Biersack and
Littmark, which keeps atoms apart at distances the training data never reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from ase import units
from torch import Tensor, nn

from noether.atoms.cutoffs import cosine_cutoff
from noether.atoms.dataset import AtomsDataset
from noether.atoms.elements import MAX_Z

if TYPE_CHECKING:
    from noether.atoms.potential import Graph

__all__ = ["ZBL", "AtomRef", "fit_atomref", "zbl_pair_energy"]

#: ``e² / (4π ε₀)`` in eV·Å (a Hartree times a Bohr radius, 14.399645).
COULOMB = units.Hartree * units.Bohr
#: The universal screening length ``a = 0.8854 a₀ / (Z_i^0.23 + Z_j^0.23)``: its numerator, Å.
ZBL_LENGTH = 0.8854 * units.Bohr
#: ``φ(x) = Σ_k c_k exp(-d_k x)``: the universal screening function of Ziegler, Biersack and
#: Littmark (*The Stopping and Range of Ions in Solids*, 1985, eqs. 9-10), as TorchMD-NET's ZBL.
ZBL_COEFFICIENTS = (0.1818, 0.5099, 0.2802, 0.02817)
ZBL_EXPONENTS = (3.2, 0.9423, 0.4029, 0.2016)


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


def fit_atomref(
    dataset: AtomsDataset, indices: np.ndarray | None = None, energies: np.ndarray | None = None
) -> np.ndarray:
    """Least-squares reference energies ``(119,)`` eV from the frames' element counts.

    Solves ``E_k ≈ Σ_z count_k(z) e_z`` over the labelled frames (minimum-norm solution when
    the compositions do not determine every element, for example a single molecule).
    ``energies (F,)`` eV, when given, replace the labels of the (selected) frames: a model's
    residuals, say.
    """
    ds = dataset if indices is None else dataset.subset(indices)
    mask = ds.label_mask("energy")
    if not mask.any():
        raise ValueError(f"{ds.source or 'dataset'}: no frame has an energy; cannot fit AtomRef")
    frame = np.repeat(np.arange(len(ds)), ds.n_atoms)
    counts = np.zeros((len(ds), MAX_Z + 1))
    np.add.at(counts, (frame, ds.numbers), 1.0)
    energy = ds.energy if energies is None else np.asarray(energies, dtype=np.float64)
    if energy.shape != (len(ds),):
        raise ValueError(f"energies must have shape ({len(ds)},), got {energy.shape}")
    counts, energy = counts[mask], energy[mask]
    present = counts.any(axis=0)
    solution, *_ = np.linalg.lstsq(counts[:, present], energy, rcond=None)
    out = np.zeros(MAX_Z + 1)
    out[present] = solution
    return out


def zbl_pair_energy(z_i: Tensor, z_j: Tensor, r: Tensor, cutoff: float) -> Tensor:
    """ZBL repulsion of atom pairs, eV: ``(E,), (E,), (E,) -> (E,)``.

    ``V(r) = COULOMB · Z_i Z_j / r · φ(r / a) · ½(cos(πr/r_c) + 1)`` below ``cutoff`` (Å) and 0
    beyond, with ``a = 0.8854 a₀ / (Z_i^0.23 + Z_j^0.23)``. The cosine factor brings energy and
    force to zero with zero slope at the cutoff (TorchMD-NET's choice, so the two agree).
    Args: atomic numbers ``z_i``, ``z_j`` (int), distances ``r`` in Å (positive).
    """
    zi, zj = z_i.to(r.dtype), z_j.to(r.dtype)
    x = r * (zi**0.23 + zj**0.23) / ZBL_LENGTH
    phi = sum(c * torch.exp(-d * x) for c, d in zip(ZBL_COEFFICIENTS, ZBL_EXPONENTS))
    return COULOMB * zi * zj / r * phi * cosine_cutoff(r, cutoff)


class ZBL(nn.Module):
    """The ZBL screened nuclear repulsion as an atom-wise prior, eV.

    ``forward(graph) -> (N,)``: half of each pair's :func:`zbl_pair_energy` to each of its atoms
    (the neighbour list holds every pair in both directions). Pairs beyond ``cutoff`` (Å) add
    nothing; the model's own neighbour list must reach it (``cutoff`` at most the model's).
    """

    def __init__(self, cutoff: float):
        super().__init__()
        if not cutoff > 0:
            raise ValueError(f"ZBL cutoff must be positive (Å), got {cutoff}")
        self.cutoff = float(cutoff)

    def forward(self, graph: Graph) -> Tensor:
        i, j = graph.edge_index
        pair = zbl_pair_energy(graph.numbers[i], graph.numbers[j], graph.lengths, self.cutoff)
        out = torch.zeros(graph.numbers.shape[0], dtype=pair.dtype, device=pair.device)
        return out.index_add(0, i, 0.5 * pair)

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}"
