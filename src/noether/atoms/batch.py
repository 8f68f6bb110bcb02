"""`AtomsBatch`: several frames as one flat graph with a batch index (no padding).

Atoms of all frames are concatenated; ``batch[i]`` is the frame of atom ``i`` and ``ptr`` the
frame boundaries. Use :func:`collate_atoms` as a DataLoader ``collate_fn``, or
:meth:`AtomsBatch.from_dataset` to slice frames straight out of an :class:`AtomsDataset`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch import Tensor

from noether.atoms.dataset import AtomsDataset, AtomsSample

__all__ = ["AtomsBatch", "collate_atoms"]

_FLOAT_FIELDS = ("positions", "cell", "energy", "forces", "stress", "charges")


@dataclass
class AtomsBatch:
    """A batch of ``G`` frames with ``N`` atoms in total.

    Shapes and units: ``numbers (N,)`` int64; ``positions (N, 3)`` Å; ``batch (N,)`` int64 frame
    index; ``ptr (G + 1,)`` frame boundaries; ``cell (G, 3, 3)`` Å (zeros without a cell);
    ``pbc (G, 3)`` bool; labels ``energy (G,)`` eV, ``forces (N, 3)`` eV/Å, ``stress (G, 3, 3)``
    eV/Å³, ``charges (N,)`` e, each None when absent; masks ``(G,)`` bool, True where a frame has
    the label.
    """

    numbers: Tensor
    positions: Tensor
    batch: Tensor
    ptr: Tensor
    cell: Tensor
    pbc: Tensor
    energy: Tensor | None = None
    forces: Tensor | None = None
    stress: Tensor | None = None
    charges: Tensor | None = None
    energy_mask: Tensor | None = None
    forces_mask: Tensor | None = None
    stress_mask: Tensor | None = None

    @property
    def n_graphs(self) -> int:
        return self.ptr.numel() - 1

    @property
    def n_atoms(self) -> Tensor:
        """``(G,)`` atoms per frame."""
        return self.ptr[1:] - self.ptr[:-1]

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> AtomsBatch:
        """Move every tensor to ``device``; cast floating tensors to ``dtype`` if given."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                out[f.name] = None
            elif f.name in _FLOAT_FIELDS and dtype is not None:
                out[f.name] = value.to(device=device, dtype=dtype)
            else:
                out[f.name] = value.to(device=device)
        return replace(self, **out)

    @classmethod
    def from_dataset(cls, dataset: AtomsDataset, indices: Sequence[int] | np.ndarray) -> AtomsBatch:
        """The frames ``indices`` of ``dataset``, sliced without building per-frame samples."""
        sub = dataset.subset(indices)
        sizes = torch.from_numpy(sub.n_atoms)

        def t(x):
            return None if x is None else torch.from_numpy(np.ascontiguousarray(x))

        return cls(
            numbers=t(sub.numbers),
            positions=t(sub.positions),
            batch=torch.repeat_interleave(torch.arange(len(sub)), sizes),
            ptr=t(sub.offsets),
            cell=t(sub.cell_array()),
            pbc=t(sub.pbc_array()),
            energy=t(sub.energy),
            forces=t(sub.forces),
            stress=t(sub.stress),
            charges=t(sub.charges),
            energy_mask=None if sub.energy is None else t(sub.label_mask("energy")),
            forces_mask=None if sub.forces is None else t(sub.label_mask("forces")),
            stress_mask=None if sub.stress is None else t(sub.label_mask("stress")),
        )


def _stack_label(samples: Sequence[AtomsSample], name: str, per_atom: bool) -> tuple:
    values = [getattr(s, name) for s in samples]
    if all(v is None for v in values):
        return None, None
    masks = []
    filled = []
    for s, v in zip(samples, values):
        if v is None:
            like = torch.zeros_like(s.positions) if per_atom else None
            if name == "energy":
                like = torch.zeros((), dtype=s.positions.dtype)
            elif name == "stress":
                like = torch.zeros(3, 3, dtype=s.positions.dtype)
            filled.append(like)
            masks.append(torch.tensor(False))
        else:
            filled.append(v)
            mask = getattr(s, f"{name}_mask")
            masks.append(torch.tensor(True) if mask is None else mask.reshape(()))
    joined = torch.cat(filled) if per_atom else torch.stack(filled)
    return joined, torch.stack(masks)


def collate_atoms(samples: Sequence[AtomsSample]) -> AtomsBatch:
    """Join samples into one :class:`AtomsBatch` (a DataLoader ``collate_fn``)."""
    if not samples:
        raise ValueError("cannot collate an empty list of samples")
    sizes = torch.tensor([s.numbers.numel() for s in samples])
    energy, energy_mask = _stack_label(samples, "energy", False)
    forces, forces_mask = _stack_label(samples, "forces", True)
    stress, stress_mask = _stack_label(samples, "stress", False)
    charges = None
    if all(s.charges is not None for s in samples):
        charges = torch.cat([s.charges for s in samples])
    return AtomsBatch(
        numbers=torch.cat([s.numbers for s in samples]),
        positions=torch.cat([s.positions for s in samples]),
        batch=torch.repeat_interleave(torch.arange(len(samples)), sizes),
        ptr=torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(sizes, 0)]),
        cell=torch.stack([s.cell for s in samples]),
        pbc=torch.stack([s.pbc for s in samples]),
        energy=energy,
        forces=forces,
        stress=stress,
        charges=charges,
        energy_mask=energy_mask,
        forces_mask=forces_mask,
        stress_mask=stress_mask,
    )
