"""Standardisation: the model's raw atom-wise output is scaled and shifted into eV.

``e_i = scale * raw_i + shift``. With ``scale`` near the typical force magnitude and ``shift`` the
mean per-atom energy left after the reference energies, a model whose outputs are O(1) starts at
the right magnitude. :func:`energy_statistics` measures both on a training set.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from noether.atoms.dataset import AtomsDataset

__all__ = ["SCALES", "ScaleShift", "energy_statistics"]


class ScaleShift(nn.Module):
    """``forward(raw (n,)) -> scale * raw + shift`` (eV); both are buffers saved with the model."""

    def __init__(self, scale: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float64))
        self.register_buffer("shift", torch.tensor(float(shift), dtype=torch.float64))

    def forward(self, raw: Tensor) -> Tensor:
        return self.scale * raw + self.shift

    def set(self, scale: float, shift: float) -> None:
        if not (np.isfinite(scale) and scale > 0 and np.isfinite(shift)):
            raise ValueError(f"scale must be positive and shift finite, got {scale}, {shift}")
        self.scale.fill_(float(scale))
        self.shift.fill_(float(shift))

    def extra_repr(self) -> str:
        return f"scale={self.scale.item():.4g}, shift={self.shift.item():.4g}"


SCALES = ("rms_force", "energy_std")


def energy_statistics(
    dataset: AtomsDataset,
    atomref: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    scale: str = "rms_force",
) -> tuple[float, float]:
    """``(scale, shift)`` for :class:`ScaleShift` from a (training) set.

    ``shift`` is the mean over labelled frames of ``(E - Σ atomref[z]) / n_atoms`` (eV/atom).
    ``scale="rms_force"``: the RMS force component (eV/Å, MACE's choice) when forces exist,
    otherwise the standard deviation of that per-atom energy. ``scale="energy_std"``: the standard
    deviation of the frame energies ``E - Σ atomref[z]`` (eV; TorchMD-NET's ``standardize``).
    Either falls back to 1 when it is not informative (no labels, or zero spread).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; accepted: {', '.join(SCALES)}")
    ds = dataset if indices is None else dataset.subset(indices)
    shift, spread, frame_spread = 0.0, 0.0, 0.0
    mask = ds.label_mask("energy")
    if mask.any():
        ref = np.zeros(len(ds))
        if atomref is not None:
            frame = np.repeat(np.arange(len(ds)), ds.n_atoms)
            ref = np.bincount(frame, weights=np.asarray(atomref)[ds.numbers], minlength=len(ds))
        per_atom = ((ds.energy - ref) / ds.n_atoms)[mask]
        shift, spread = float(per_atom.mean()), float(per_atom.std())
        frame_spread = float((ds.energy - ref)[mask].std())
    if scale == "energy_std":
        value = frame_spread
    else:
        value = spread
        fmask = ds.label_mask("forces")
        if fmask.any():
            atom_mask = np.repeat(fmask, ds.n_atoms)
            value = float(np.sqrt(np.mean(ds.forces[atom_mask] ** 2)))
    return (value if value > 1e-12 else 1.0), shift
