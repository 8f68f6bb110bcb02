"""Unit conversion at the boundaries: everything inside noether is eV, Å, fs (ASE's conventions).

Readers take the unit a file is written in and multiply by the factor to eV or Å; writers divide.
Constants come from ``ase.units`` (CODATA 2014), so a Hartree is 27.211386 eV and a Bohr 0.529177 Å.

>>> energy_factor("kcal/mol")        # eV per kcal/mol
0.0433641...
"""

from __future__ import annotations

from ase import units as _u

__all__ = [
    "ENERGY_UNITS",
    "LENGTH_UNITS",
    "energy_factor",
    "force_factor",
    "length_factor",
    "stress_factor",
]

#: eV per unit. Keys are matched case-insensitively.
ENERGY_UNITS: dict[str, float] = {
    "eV": 1.0,
    "meV": 1e-3,
    "Hartree": _u.Hartree,
    "Ha": _u.Hartree,
    "Ry": _u.Rydberg,
    "kcal/mol": _u.kcal / _u.mol,
    "kJ/mol": _u.kJ / _u.mol,
}

#: Å per unit. Keys are matched case-insensitively.
LENGTH_UNITS: dict[str, float] = {
    "Ang": 1.0,
    "Angstrom": 1.0,
    "Å": 1.0,
    "A": 1.0,
    "Bohr": _u.Bohr,
    "nm": 10.0,
    "pm": 0.01,
}


def _lookup(table: dict[str, float], unit: str, kind: str) -> float:
    if not isinstance(unit, str):
        raise TypeError(f"{kind} unit must be a string, got {unit!r}")
    for name, factor in table.items():
        if name.lower() == unit.strip().lower():
            return factor
    raise ValueError(f"unknown {kind} unit {unit!r}; accepted: {', '.join(table)}")


def energy_factor(unit: str) -> float:
    """eV per ``unit`` (multiply a value in ``unit`` by this to get eV)."""
    return _lookup(ENERGY_UNITS, unit, "energy")


def length_factor(unit: str) -> float:
    """Å per ``unit``."""
    return _lookup(LENGTH_UNITS, unit, "length")


def force_factor(energy_unit: str, length_unit: str) -> float:
    """(eV/Å) per (``energy_unit``/``length_unit``)."""
    return energy_factor(energy_unit) / length_factor(length_unit)


def stress_factor(energy_unit: str, length_unit: str) -> float:
    """(eV/Å³) per (``energy_unit``/``length_unit``³); ``energy_unit="GPa"`` is also accepted."""
    if isinstance(energy_unit, str) and energy_unit.strip().lower() == "gpa":
        return _u.GPa
    return energy_factor(energy_unit) / length_factor(length_unit) ** 3
