"""`AtomsDataset`: labelled atomic configurations stored as flat arrays, in eV, Å and e.

Frames of any size live back to back: atom-wise arrays (``numbers``, ``positions``, ``forces``,
``charges``) have one row per atom of every frame, and ``offsets`` says where each frame starts, so
frame ``k`` is rows ``offsets[k]:offsets[k+1]``. Frame-wise arrays (``energy``, ``cell``, ``pbc``,
``stress`` and the label masks) have one row per frame. A label mask is False for a frame whose
label is missing (its stored value is then 0 and is never used by a loss or metric).

Construction validates everything and names the offending field and frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from noether.atoms.elements import MAX_Z
from noether.core.errors import DataError

__all__ = ["AtomsDataset", "AtomsSample"]

LABELS = ("energy", "forces", "stress")


@dataclass
class AtomsSample:
    """One frame as torch tensors (float64): what ``AtomsDataset[k]`` returns.

    Shapes: ``numbers (n,)``, ``positions (n, 3)`` Å, ``cell (3, 3)`` Å (zeros when absent),
    ``pbc (3,)``, ``energy ()`` eV, ``forces (n, 3)`` eV/Å, ``stress (3, 3)`` eV/Å³,
    ``charges (n,)`` e, masks ``()`` bool. Missing labels are None.
    """

    numbers: torch.Tensor
    positions: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    energy: torch.Tensor | None = None
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None
    charges: torch.Tensor | None = None
    energy_mask: torch.Tensor | None = None
    forces_mask: torch.Tensor | None = None
    stress_mask: torch.Tensor | None = None


def _frame_of_atom(offsets: np.ndarray, atom: int) -> tuple[int, int]:
    frame = int(np.searchsorted(offsets, atom, side="right") - 1)
    return frame, atom - int(offsets[frame])


def _as_array(name: str, value, dtype, source: str) -> np.ndarray:
    """``value`` as an array of ``dtype``, from numbers only: a string array, or floats where
    integers are needed, raise a :class:`DataError` naming ``source`` and the field."""
    value = np.asarray(value)
    kinds, accepted = {
        np.float64: ("biuf", "numbers"),
        np.int64: ("biu", "integers"),
        bool: ("biu", "booleans"),
    }[dtype]
    if value.dtype.kind not in kinds:
        raise DataError(
            f"{source + ': ' if source else ''}{name} has dtype {value.dtype}; accepted: {accepted}",
            file=source or None,
            field=name,
            value=str(value.dtype),
            accepted=accepted,
        )
    return value.astype(dtype)


@dataclass
class AtomsDataset(torch.utils.data.Dataset):
    """Atomic configurations with optional labels, in eV, Å, eV/Å, eV/Å³ and e.

    Attributes:
        numbers: ``(n_atoms_total,)`` int64 atomic numbers.
        positions: ``(n_atoms_total, 3)`` float64, Å.
        offsets: ``(n_frames + 1,)`` int64; frame ``k`` is atoms ``offsets[k]:offsets[k+1]``.
        energy: ``(n_frames,)`` eV, or None.
        forces: ``(n_atoms_total, 3)`` eV/Å, or None.
        cell: ``(n_frames, 3, 3)`` Å, lattice vectors as rows, or None (no cell).
        pbc: ``(n_frames, 3)`` bool, or None (not periodic).
        stress: ``(n_frames, 3, 3)`` eV/Å³ (ASE sign convention), or None.
        charges: ``(n_atoms_total,)`` partial charges in e, or None.
        energy_mask, forces_mask, stress_mask: ``(n_frames,)`` bool, True where the frame has the
            label; None means every frame has it (when the label array exists).
        source: where the data came from, used in error messages.
    """

    numbers: np.ndarray
    positions: np.ndarray
    offsets: np.ndarray
    energy: np.ndarray | None = None
    forces: np.ndarray | None = None
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    stress: np.ndarray | None = None
    charges: np.ndarray | None = None
    energy_mask: np.ndarray | None = None
    forces_mask: np.ndarray | None = None
    stress_mask: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self.numbers = np.asarray(self.numbers)
        if self.numbers.dtype.kind in "iu":
            self.numbers = self.numbers.astype(np.int64)
        for name, dtype in (
            ("positions", np.float64),
            ("offsets", np.int64),
            ("energy", np.float64),
            ("forces", np.float64),
            ("cell", np.float64),
            ("stress", np.float64),
            ("charges", np.float64),
            ("pbc", bool),
            ("energy_mask", bool),
            ("forces_mask", bool),
            ("stress_mask", bool),
        ):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, _as_array(name, value, dtype, self.source))
        self.validate()

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_arrays(
        cls,
        numbers: np.ndarray,
        positions: np.ndarray,
        energy: np.ndarray | None = None,
        forces: np.ndarray | None = None,
        *,
        cell: np.ndarray | None = None,
        pbc: np.ndarray | None = None,
        stress: np.ndarray | None = None,
        source: str = "",
    ) -> AtomsDataset:
        """Frames of one composition (MD17 style): ``numbers (n,)`` or ``(F, n)``,
        ``positions (F, n, 3)`` Å, ``energy (F,)`` or ``(F, 1)`` eV, ``forces (F, n, 3)`` eV/Å,
        ``cell (F, 3, 3)`` or ``(3, 3)``, ``pbc (F, 3)`` or ``(3,)``, ``stress (F, 3, 3)``."""
        where = f"{source}: " if source else ""

        def fail(message: str, field: str) -> DataError:
            return DataError(where + message, file=source or None, field=field)

        positions = _as_array("positions", positions, np.float64, source)
        if positions.ndim != 3 or positions.shape[-1] != 3:
            raise fail(
                f"positions must have shape (n_frames, n_atoms, 3), got {positions.shape}",
                "positions",
            )
        n_frames, n_atoms, _ = positions.shape
        numbers = np.asarray(numbers)
        if numbers.ndim == 1 and numbers.shape[0] == n_atoms:
            numbers = np.broadcast_to(numbers, (n_frames, n_atoms))
        if numbers.shape != (n_frames, n_atoms):
            raise fail(
                f"atomic numbers have shape {numbers.shape} but positions describe "
                f"{n_frames} frame(s) of {n_atoms} atoms; give ({n_atoms},) or "
                f"({n_frames}, {n_atoms})",
                "numbers",
            )
        if energy is not None:
            energy = _as_array("energy", energy, np.float64, source)
            if energy.ndim == 2 and energy.shape[1] == 1:
                energy = energy[:, 0]
            if energy.shape != (n_frames,):
                raise fail(
                    f"energy has shape {energy.shape}; expected ({n_frames},) or "
                    f"({n_frames}, 1) for {n_frames} frame(s)",
                    "energy",
                )
        if forces is not None:
            forces = _as_array("forces", forces, np.float64, source)
            if forces.shape != positions.shape:
                raise fail(
                    f"forces have shape {forces.shape} but positions have "
                    f"{positions.shape}; they must match",
                    "forces",
                )
            forces = forces.reshape(-1, 3)
        if cell is not None:
            cell = np.broadcast_to(np.asarray(cell, dtype=np.float64), (n_frames, 3, 3))
        if pbc is not None:
            pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (n_frames, 3))
        return cls(
            numbers=numbers.reshape(-1),
            positions=positions.reshape(-1, 3),
            offsets=np.arange(n_frames + 1, dtype=np.int64) * n_atoms,
            energy=energy,
            forces=forces,
            cell=None if cell is None else np.array(cell),
            pbc=None if pbc is None else np.array(pbc),
            stress=stress,
            source=source,
        )

    @classmethod
    def concatenate(cls, parts: Sequence[AtomsDataset]) -> AtomsDataset:
        """Frames of several datasets in order; a label present in only some parts is masked."""
        if not parts:
            raise ValueError("concatenate needs at least one dataset")
        counts = [len(p) for p in parts]
        sizes = np.concatenate([np.diff(p.offsets) for p in parts])
        out: dict = {
            "numbers": np.concatenate([p.numbers for p in parts]),
            "positions": np.concatenate([p.positions for p in parts]),
            "offsets": np.concatenate([[0], np.cumsum(sizes)]),
            "source": ", ".join(sorted({p.source for p in parts if p.source})),
        }
        atoms = [len(p.numbers) for p in parts]
        for name, per_atom, shape in (
            ("energy", False, ()),
            ("forces", True, (3,)),
            ("stress", False, (3, 3)),
        ):
            if all(getattr(p, name) is None for p in parts):
                continue
            out[name] = np.concatenate(
                [
                    getattr(p, name)
                    if getattr(p, name) is not None
                    else np.zeros(((a if per_atom else c), *shape))
                    for p, a, c in zip(parts, atoms, counts)
                ]
            )
            out[f"{name}_mask"] = np.concatenate([p.label_mask(name) for p in parts])
        if any(p.charges is not None for p in parts):
            if not all(p.charges is not None for p in parts):
                raise ValueError("charges are present in some datasets and missing in others")
            out["charges"] = np.concatenate([p.charges for p in parts])
        if any(p.cell is not None for p in parts):
            out["cell"] = np.concatenate([p.cell_array() for p in parts])
            out["pbc"] = np.concatenate([p.pbc_array() for p in parts])
        return cls(**out)

    # ---------------------------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_atoms(self) -> np.ndarray:
        """``(n_frames,)`` atoms per frame."""
        return np.diff(self.offsets)

    def label_mask(self, name: str) -> np.ndarray:
        """``(n_frames,)`` bool: which frames have label ``name`` (energy, forces or stress)."""
        if name not in LABELS:
            raise ValueError(f"unknown label {name!r}; accepted: {', '.join(LABELS)}")
        if getattr(self, name) is None:
            return np.zeros(len(self), dtype=bool)
        mask = getattr(self, f"{name}_mask")
        return np.ones(len(self), dtype=bool) if mask is None else mask

    def cell_array(self) -> np.ndarray:
        """``(n_frames, 3, 3)`` cells, zeros where there is none."""
        return np.zeros((len(self), 3, 3)) if self.cell is None else self.cell

    def pbc_array(self) -> np.ndarray:
        """``(n_frames, 3)`` periodicity flags, False where not given."""
        return np.zeros((len(self), 3), dtype=bool) if self.pbc is None else self.pbc

    def frame_slice(self, k: int) -> slice:
        if not -len(self) <= k < len(self):
            raise IndexError(f"frame {k} out of range for a dataset of {len(self)} frame(s)")
        k = k % len(self)
        return slice(int(self.offsets[k]), int(self.offsets[k + 1]))

    def __getitem__(self, k: int) -> AtomsSample:
        s = self.frame_slice(int(k))
        k = int(k) % len(self)

        def t(x: np.ndarray | None) -> torch.Tensor | None:
            return None if x is None else torch.from_numpy(np.array(x))

        return AtomsSample(
            numbers=t(self.numbers[s]),
            positions=t(self.positions[s]),
            cell=t(self.cell_array()[k]),
            pbc=t(self.pbc_array()[k]),
            energy=None if self.energy is None else t(self.energy[k]),
            forces=None if self.forces is None else t(self.forces[s]),
            stress=None if self.stress is None else t(self.stress[k]),
            charges=None if self.charges is None else t(self.charges[s]),
            energy_mask=None if self.energy is None else t(self.label_mask("energy")[k]),
            forces_mask=None if self.forces is None else t(self.label_mask("forces")[k]),
            stress_mask=None if self.stress is None else t(self.label_mask("stress")[k]),
        )

    def subset(self, indices: Sequence[int] | np.ndarray) -> AtomsDataset:
        """A new dataset with the frames ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(
                f"frame indices must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}"
            )
        idx = idx % max(len(self), 1)
        sizes = self.n_atoms[idx]
        starts = np.repeat(self.offsets[idx], sizes)
        within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        atom_idx = starts + within
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("offsets", "source") or value is None:
                continue
            per_atom = f.name in ("numbers", "positions", "forces", "charges")
            out[f.name] = value[atom_idx] if per_atom else value[idx]
        return AtomsDataset(
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            source=self.source,
            **out,
        )

    def to_atoms(self, k: int):
        """Frame ``k`` as an ``ase.Atoms`` (labels in ``info["REF_energy"]`` etc. are not set)."""
        from ase import Atoms

        s = self.frame_slice(k)
        return Atoms(
            numbers=self.numbers[s],
            positions=self.positions[s],
            cell=self.cell_array()[k],
            pbc=self.pbc_array()[k],
        )

    # ------------------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check shapes, finiteness and elements; raise :class:`~noether.core.errors.DataError`
        (a ``ValueError``) naming the source file, the field and the frame."""
        where = f"{self.source}: " if self.source else ""

        def fail(message: str, **parts) -> DataError:
            return DataError(where + message, file=self.source or None, **parts)

        off = self.offsets
        if off.ndim != 1 or off.size < 1 or off[0] != 0:
            raise fail(
                f"offsets must be a 1-D array starting at 0, got {off.reshape(-1)[:5]}...",
                field="offsets",
            )
        sizes = np.diff(off)
        if (sizes <= 0).any():
            k = int(np.flatnonzero(sizes <= 0)[0])
            raise fail(
                f"frame {k} has {sizes[k]} atoms; every frame needs at least one",
                field="offsets",
                frame=k,
                value=int(sizes[k]),
                accepted="at least one atom per frame",
            )
        n_atoms, n_frames = int(off[-1]), len(off) - 1
        if n_frames == 0:
            raise fail("the dataset has no frames", field="offsets", accepted="at least one frame")

        def shape_check(name: str, expected: tuple) -> None:
            value = getattr(self, name)
            if value is not None and value.shape != expected:
                raise fail(
                    f"{name} has shape {value.shape}, expected {expected} for "
                    f"{n_frames} frame(s) with {n_atoms} atoms in total",
                    field=name,
                    value=value.shape,
                    accepted=str(expected),
                )

        for label in LABELS:
            if getattr(self, label) is None and getattr(self, f"{label}_mask") is not None:
                raise fail(
                    f"{label}_mask is given but {label} is not; accepted: both or neither",
                    field=label,
                )
        shape_check("numbers", (n_atoms,))
        shape_check("positions", (n_atoms, 3))
        for name, shape in (
            ("forces", (n_atoms, 3)),
            ("charges", (n_atoms,)),
            ("energy", (n_frames,)),
            ("cell", (n_frames, 3, 3)),
            ("pbc", (n_frames, 3)),
            ("stress", (n_frames, 3, 3)),
            ("energy_mask", (n_frames,)),
            ("forces_mask", (n_frames,)),
            ("stress_mask", (n_frames,)),
        ):
            shape_check(name, shape)
        if self.numbers.dtype.kind not in "iu":
            raise fail(
                f"atomic numbers have dtype {self.numbers.dtype}; accepted: integers 1 (H) to "
                f"{MAX_Z} (Og)",
                field="numbers",
                value=str(self.numbers.dtype),
                accepted="integers",
            )
        bad_z = np.flatnonzero((self.numbers < 1) | (self.numbers > MAX_Z))
        if bad_z.size:
            bad = int(bad_z[0])
            frame, atom = _frame_of_atom(off, bad)
            raise fail(
                f"frame {frame}, atom {atom}: atomic number {self.numbers[bad]} is not an "
                f"element; accepted: 1 (H) to {MAX_Z} (Og)",
                field="numbers",
                frame=frame,
                value=int(self.numbers[bad]),
                accepted=f"1 (H) to {MAX_Z} (Og)",
            )

        def finite_check(name: str, per_atom: bool) -> None:
            value = getattr(self, name)
            if value is None:
                return
            bad_rows = ~np.isfinite(value.reshape(len(value), -1)).all(axis=1)
            if name in LABELS:
                mask = self.label_mask(name)
                bad_rows &= mask[np.repeat(np.arange(n_frames), sizes)] if per_atom else mask
            if bad_rows.any():
                row = int(np.flatnonzero(bad_rows)[0])
                bad_value = value.reshape(len(value), -1)[row]
                bad_value = bad_value[~np.isfinite(bad_value)][0]
                if per_atom:
                    frame, atom = _frame_of_atom(off, row)
                    at = f"frame {frame}, atom {atom}"
                else:
                    frame, at = row, f"frame {row}"
                raise fail(
                    f"{at}: {name} contains {bad_value}; only finite numbers are accepted",
                    field=name,
                    frame=frame,
                    value=float(bad_value),
                    accepted="finite numbers",
                )

        for name, per_atom in (
            ("positions", True),
            ("forces", True),
            ("charges", True),
            ("energy", False),
            ("cell", False),
            ("stress", False),
        ):
            finite_check(name, per_atom)
        if self.pbc is not None and self.pbc.any():
            cell = self.cell_array()
            volume = np.abs(np.linalg.det(cell))
            singular = self.pbc.any(axis=1) & (volume < 1e-8)
            if singular.any():
                k = int(np.flatnonzero(singular)[0])
                raise fail(
                    f"frame {k} is periodic (pbc={self.pbc[k].tolist()}) but its cell has "
                    f"volume {volume[k]:.3g} Å³; a periodic frame needs three independent "
                    f"lattice vectors",
                    field="cell",
                    frame=k,
                    value=float(volume[k]),
                    accepted="a cell of non-zero volume",
                )
