"""MD health: a stability monitor (bond stretch, closest approach, NaN) and energy drift.

A trajectory is flagged unstable, following Fu et al. ("Forces are not enough", TMLR 2023), when a
bond of the starting structure deviates by more than ``max_bond_stretch`` (0.5 Å), when two atoms
come closer than ``min_distance`` (0.5 Å), or when any position or energy is not finite. Bonds are
pairs closer than ``bond_scale`` (1.25) times the sum of their covalent radii at the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from noether.atoms.structure import covalent_bonds

__all__ = ["StabilityMonitor", "energy_drift"]


@dataclass
class StabilityMonitor:
    """Call :meth:`check` on each logged frame; it returns a reason string once unstable.

    Attributes:
        max_bond_stretch: Å: largest change of a bond of the starting structure.
        min_distance: Å: closest approach of two atoms.
        bond_scale: a bond is a pair closer than this times the sum of their covalent radii.
    """

    max_bond_stretch: float = 0.5
    min_distance: float = 0.5
    bond_scale: float = 1.25
    bonds: np.ndarray | None = None
    reference: np.ndarray | None = None
    history: dict = field(default_factory=lambda: {"max_stretch": [], "min_distance": []})

    def __post_init__(self) -> None:
        for name, unit in (("max_bond_stretch", " Å"), ("min_distance", " Å"), ("bond_scale", "")):
            value = getattr(self, name)
            if not (isinstance(value, Real) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0{unit}; got {value}")

    def start(self, atoms) -> None:
        """Record the bonds of the starting structure."""
        d = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
        self.bonds = covalent_bonds(atoms.numbers, d, self.bond_scale)
        self.reference = d[self.bonds[:, 0], self.bonds[:, 1]]

    def check(self, atoms, energy: float | None = None) -> str | None:
        """None while stable; otherwise why not."""
        if self.bonds is None:
            self.start(atoms)
        pos = atoms.positions
        if not np.isfinite(pos).all():
            return f"non-finite positions (atom {int(np.flatnonzero(~np.isfinite(pos).all(1))[0])})"
        if energy is not None and not np.isfinite(energy):
            return f"non-finite energy {energy}"
        d = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
        np.fill_diagonal(d, np.inf)
        closest = float(d.min()) if len(atoms) > 1 else np.inf
        stretch = np.abs(d[self.bonds[:, 0], self.bonds[:, 1]] - self.reference)
        worst = float(stretch.max()) if stretch.size else 0.0
        self.history["max_stretch"].append(worst)
        self.history["min_distance"].append(closest)
        if worst > self.max_bond_stretch:
            k = int(stretch.argmax())
            i, j = self.bonds[k]
            return (
                f"bond {i}-{j} changed by {worst:.2f} Å (limit {self.max_bond_stretch} Å) from "
                f"{self.reference[k]:.2f} Å"
            )
        if closest < self.min_distance:
            return f"two atoms at {closest:.2f} Å (limit {self.min_distance} Å)"
        return None


def energy_drift(time_fs: np.ndarray, total_energy: np.ndarray, n_atoms: int) -> float:
    """Slope of a least-squares line through the total energy, in meV per atom per ps."""
    time_fs = np.asarray(time_fs, dtype=np.float64)
    total_energy = np.asarray(total_energy, dtype=np.float64)
    if time_fs.size < 2:
        raise ValueError("energy drift needs at least two logged frames")
    slope_ev_per_fs = np.polyfit(time_fs, total_energy, 1)[0]
    return float(slope_ev_per_fs * 1e3 * 1e3 / n_atoms)
