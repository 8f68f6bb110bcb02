"""Chemical elements: atomic numbers, symbols, and the check that a number is an element."""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers as _numbers_by_symbol
from ase.data import chemical_symbols

__all__ = ["MAX_Z", "atomic_number", "check_atomic_numbers", "symbol"]

#: The largest atomic number accepted (oganesson).
MAX_Z = 118


def atomic_number(element: str | int) -> int:
    """The atomic number of an element given by symbol (``"C"``) or number (6)."""
    if isinstance(element, (int, np.integer)) and not isinstance(element, bool):
        if 1 <= int(element) <= MAX_Z:
            return int(element)
        raise ValueError(f"atomic number {element} is not an element; accepted: 1 (H) to {MAX_Z}")
    if isinstance(element, str) and element in _numbers_by_symbol and element != "X":
        return int(_numbers_by_symbol[element])
    raise ValueError(
        f"unknown element {element!r}; accepted: symbols H to Og or numbers 1 to {MAX_Z}"
    )


def symbol(z: int) -> str:
    """The chemical symbol of atomic number ``z``."""
    return chemical_symbols[atomic_number(int(z))]


def check_atomic_numbers(numbers: np.ndarray, where: str = "") -> None:
    """Raise ``ValueError`` naming the first entry of ``numbers`` that is not an element (1..118)."""
    numbers = np.asarray(numbers)
    if numbers.size and not np.issubdtype(numbers.dtype, np.integer):
        raise TypeError(f"{where}atomic numbers must be integers, got dtype {numbers.dtype}")
    bad = np.flatnonzero((numbers < 1) | (numbers > MAX_Z))
    if bad.size:
        raise ValueError(
            f"{where}atomic number {numbers.flat[bad[0]]} at index {bad[0]} is not an element; "
            f"accepted: 1 (H) to {MAX_Z} (Og)"
        )
