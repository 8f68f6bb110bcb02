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
    "REPORT_ENERGY_UNITS",
    "REPORT_FORCE_UNITS",
    "energy_factor",
    "force_factor",
    "length_factor",
    "report_conversions",
    "report_unit",
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


#: Units the atomistic task's errors can be reported in (``noether evaluate --energy-unit``).
REPORT_ENERGY_UNITS: tuple[str, ...] = ("meV", "eV", "kcal/mol", "kJ/mol")
#: ... and its force errors (``--force-unit``); ``/A`` and ``/Ang`` are read as ``/Å``.
REPORT_FORCE_UNITS: tuple[str, ...] = tuple(f"{u}/Å" for u in REPORT_ENERGY_UNITS)


def report_unit(unit: str, accepted: tuple[str, ...]) -> str | None:
    """The spelling in ``accepted`` of ``unit`` (case-insensitive; ``/A`` or ``/Ang`` for
    ``/Å``), or None if it is not there."""
    text = unit.strip().lower()
    for alias in ("/angstrom", "/ang", "/a"):
        if text.endswith(alias):
            text = text[: -len(alias)] + "/å"
    return next((u for u in accepted if u.lower() == text), None)


def report_conversions(energy_unit: str, force_unit: str) -> dict[str, tuple[str, float, str]]:
    """``{quantity: (from, factor, to)}``: the atomistic task reports ``energy`` in meV and
    ``forces`` in meV/Å; multiplied by ``factor`` they are in ``energy_unit`` and ``force_unit``
    (spellings of :data:`REPORT_ENERGY_UNITS` and :data:`REPORT_FORCE_UNITS`).

    >>> report_conversions("kcal/mol", "kcal/mol/Å")["energy"]   # 1 meV = 0.02306 kcal/mol
    ('meV', 0.0230605..., 'kcal/mol')
    """
    if energy_unit not in REPORT_ENERGY_UNITS:
        raise ValueError(f"energy unit {energy_unit!r}: accepted: {', '.join(REPORT_ENERGY_UNITS)}")
    if force_unit not in REPORT_FORCE_UNITS:
        raise ValueError(f"force unit {force_unit!r}: accepted: {', '.join(REPORT_FORCE_UNITS)}")
    per_energy = force_unit.rsplit("/", 1)[0]
    return {
        "energy": ("meV", 1e-3 / energy_factor(energy_unit), energy_unit),
        "forces": ("meV/Å", 1e-3 / energy_factor(per_energy), force_unit),
    }
