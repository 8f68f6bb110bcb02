"""Reader of the public QM9 files (Ramakrishnan et al., Sci. Data 1, 140022, 2014).

The data come as ``dsgdb9nsd.xyz.tar.bz2``: one ``dsgdb9nsd_NNNNNN.xyz`` per molecule::

    n_atoms
    gdb <index> A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv      (tab separated)
    <element> x y z <Mulliken charge>                                   (n_atoms lines, Å, e)
    <harmonic frequencies>
    <SMILES GDB-17> <SMILES relaxed>
    <InChI GDB-17> <InChI relaxed>

Numbers may use Mathematica's exponent notation (``1.2345*^-6``). :func:`read_qm9` reads a single
file, a folder of them, or the (optionally compressed) tar archive as published; nothing is
downloaded. Targets come out in noether's units: energies in eV (Hartree × 27.211386), ``mu`` in
Debye, ``alpha`` in a0³, ``r2`` in a0², rotational constants in GHz, ``Cv`` in cal/(mol K).
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from noether.atoms.elements import atomic_number
from noether.atoms.properties.dataset import PropertyDataset
from noether.core.errors import DataError

__all__ = ["QM9_TARGETS", "read_qm9", "read_qm9_xyz"]

HARTREE = 27.211386245988  # eV (CODATA 2018)

#: The 15 properties of the second line, with their unit after conversion and the factor applied.
QM9_TARGETS: dict[str, tuple[str, float]] = {
    "A": ("GHz", 1.0),
    "B": ("GHz", 1.0),
    "C": ("GHz", 1.0),
    "mu": ("D", 1.0),
    "alpha": ("a0^3", 1.0),
    "homo": ("eV", HARTREE),
    "lumo": ("eV", HARTREE),
    "gap": ("eV", HARTREE),
    "r2": ("a0^2", 1.0),
    "zpve": ("eV", HARTREE),
    "U0": ("eV", HARTREE),
    "U": ("eV", HARTREE),
    "H": ("eV", HARTREE),
    "G": ("eV", HARTREE),
    "Cv": ("cal/mol/K", 1.0),
}


def _float(token: str, where: str) -> float:
    try:
        value = float(token.replace("*^", "e"))
    except ValueError:
        raise ValueError(f"{where}: {token!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"{where}: {token!r} is not a finite number")
    return value


def _parse(text: str, source: str) -> tuple[np.ndarray, np.ndarray, dict[str, float], str]:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{source}: empty file; expected a QM9 .xyz (atom count on line 1)")
    try:
        n = int(lines[0].split()[0])
    except ValueError:
        raise ValueError(f"{source}: line 1 {lines[0]!r} is not an atom count") from None
    if n < 1 or len(lines) < n + 2:
        raise ValueError(f"{source}: {n} atoms announced but the file has {len(lines)} lines")
    head = lines[1].split()
    if len(head) != 17 or head[0] != "gdb":
        raise ValueError(
            f"{source}: line 2 should be 'gdb <index>' and 15 properties (17 fields), "
            f"got {len(head)} fields starting {head[:2]}"
        )
    props = {
        name: _float(tok, f"{source} line 2") * factor
        for (name, (_, factor)), tok in zip(QM9_TARGETS.items(), head[2:])
    }
    numbers, positions = [], []
    for k in range(n):
        fields = lines[2 + k].split()
        where = f"{source} line {3 + k}"
        if len(fields) < 4:
            raise ValueError(f"{where}: expected 'element x y z charge', got {lines[2 + k]!r}")
        try:
            numbers.append(atomic_number(fields[0]))
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        positions.append([_float(t, where) for t in fields[1:4]])
    smiles = lines[n + 3].split()[-1] if len(lines) > n + 3 and lines[n + 3].split() else head[1]
    return np.array(numbers), np.array(positions), props, smiles


def read_qm9_xyz(path: str | os.PathLike) -> PropertyDataset:
    """One QM9 ``.xyz`` file as a one-molecule :class:`PropertyDataset`."""
    path = Path(path)
    with _named(path):
        return _collect([(path.read_text(), str(path))])


def _texts(path: Path) -> Iterable[tuple[str, str]]:
    if path.is_dir():
        files = sorted(path.glob("*.xyz"))
        if not files:
            raise ValueError(f"{path}: no .xyz files in this folder")
        for f in files:
            yield f.read_text(), str(f)
        return
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            members = sorted(
                (m for m in tar.getmembers() if m.name.endswith(".xyz")), key=lambda m: m.name
            )
            if not members:
                raise ValueError(f"{path}: the archive holds no .xyz files")
            for m in members:
                handle = tar.extractfile(m)
                if handle is not None:
                    yield handle.read().decode(), f"{path}:{m.name}"
        return
    yield path.read_text(), str(path)


def _collect(texts: Iterable[tuple[str, str]]) -> PropertyDataset:
    numbers, positions, sizes, names = [], [], [], []
    values: dict[str, list[float]] = {name: [] for name in QM9_TARGETS}
    for text, source in texts:
        z, pos, props, smiles = _parse(text, source)
        numbers.append(z)
        positions.append(pos)
        sizes.append(len(z))
        names.append(smiles)
        for name, v in props.items():
            values[name].append(v)
    return PropertyDataset(
        np.concatenate(numbers),
        np.concatenate(positions),
        np.concatenate([[0], np.cumsum(sizes)]),
        {k: np.array(v) for k, v in values.items()},
        {k: unit for k, (unit, _) in QM9_TARGETS.items()},
        names,
    )


def read_qm9(path: str | os.PathLike, limit: int | None = None) -> PropertyDataset:
    """QM9 molecules from a ``.xyz`` file, a folder of them, or the tar archive (``.tar.bz2``).

    ``limit`` reads only the first molecules (in file-name order).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    with _named(path):
        texts = _texts(path)
        if limit is not None:
            texts = (t for _, t in zip(range(limit), texts))
        return _collect(texts)


@contextmanager
def _named(path: Path):
    """Any error of a damaged file or archive as a :class:`DataError` naming ``path``: tarfile,
    bz2 and the text decoder raise their own types, without the file."""
    try:
        yield
    except DataError:
        raise
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, tarfile.TarError) as err:
        raise DataError(str(err), file=path) from err
