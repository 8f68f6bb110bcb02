"""Extended XYZ through ASE, with reference labels under configurable keys.

Labels live under ``REF_energy`` (info), ``REF_forces`` (per-atom array) and ``REF_stress``
(info; 9 numbers, or 6 in Voigt order xx yy zz yz xz xy) by default, MACE's convention, so they
are never confused with results an ASE calculator cached. Keys named ``energy``, ``forces`` or
``stress`` are also found where ASE's reader puts them (a SinglePointCalculator).
"""

from __future__ import annotations

import os

import numpy as np

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats._common import check_file, from_native_units, to_native_units
from noether.core.errors import DataError
from noether.core.io import atomic_path

__all__ = ["read_extxyz", "write_extxyz"]


def _get(atoms, key: str | None, per_atom: bool):
    if key is None:
        return None
    store = atoms.arrays if per_atom else atoms.info
    if key in store:
        return np.asarray(store[key], dtype=np.float64)
    calc = atoms.calc
    if calc is not None and key in getattr(calc, "results", {}):
        return np.asarray(calc.results[key], dtype=np.float64)
    return None


def _stress_3x3(value: np.ndarray, where: str) -> np.ndarray:
    value = value.reshape(-1)
    if value.size == 9:
        return value.reshape(3, 3)
    if value.size == 6:
        xx, yy, zz, yz, xz, xy = value
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    raise DataError(
        f"{where}: stress has {value.size} numbers; expected 9 or 6 (Voigt)",
        field="stress",
        accepted="9 numbers, or 6 in Voigt order",
    )


def _check_frame_layout(path) -> None:
    """Walk the frames of ``path`` by their atom counts and raise a :class:`DataError` at the
    first frame whose count disagrees with its lines: ASE indexes the whole file before it parses
    a frame, so without this a wrong count in frame 2 is reported at frame 0."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: not a text file ({err}); expected extended XYZ", file=path
        ) from err
    while lines and not lines[-1].strip():
        lines.pop()
    i, frame, columns, previous = 0, 0, None, 0  # columns, previous: the last frame's
    while i < len(lines):
        head = lines[i].strip()
        try:
            n = int(head)
        except ValueError:
            if frame and columns == len(head.split()):
                raise DataError(
                    f"{path}: frame {frame - 1} announces {previous} atoms but line {i + 1} after "
                    f"them is an atom line too; the count is too small",
                    file=path,
                    frame=frame - 1,
                    field="atom count",
                    value=previous,
                ) from None
            raise DataError(
                f"{path}: frame {frame}, line {i + 1}: expected the atom count, got {head[:40]!r}",
                file=path,
                frame=frame,
                field="atom count",
                accepted="an integer >= 1",
            ) from None
        if n < 1:
            raise DataError(
                f"{path}: frame {frame}, line {i + 1}: atom count {n}; accepted: an integer >= 1",
                file=path,
                frame=frame,
                field="atom count",
                value=n,
            )
        atoms = lines[i + 2 : i + 2 + n]
        if i + 1 >= len(lines) or len(atoms) < n:
            raise DataError(
                f"{path}: frame {frame} announces {n} atoms but the file ends after "
                f"{len(atoms)} atom lines",
                file=path,
                frame=frame,
                field="atom count",
                value=n,
            )
        columns = len(atoms[0].split())
        for k, line in enumerate(atoms):
            if len(line.split()) != columns:
                raise DataError(
                    f"{path}: frame {frame} announces {n} atoms but its atom {k} (line "
                    f"{i + 3 + k}) has {len(line.split())} columns where atom 0 has {columns}; "
                    f"is the count too large?",
                    file=path,
                    frame=frame,
                    field="atom count",
                    value=n,
                )
        i, frame, previous = i + 2 + n, frame + 1, n


def _read_frames(path, index: str | int | slice) -> list:
    """The frames of ``path`` through ASE, one at a time, so that a parse error names its frame
    (an unknown element symbol raises ASE's bare ``KeyError: 'Xx'``)."""
    from ase.io import iread

    _check_frame_layout(path)
    frames: list = []
    try:
        for atoms in iread(path, index=index, format="extxyz"):
            frames.append(atoms)
    except Exception as err:  # ASE raises many types for malformed text
        what = f"{type(err).__name__}: {err}"
        if isinstance(err, KeyError) and err.args and isinstance(err.args[0], str):
            what = f"unknown element symbol {err.args[0]!r} in the species column"
        raise DataError(
            f"{path}: frame {len(frames)}: not readable as extended XYZ ({what})",
            file=path,
            frame=len(frames),
        ) from err
    return frames


def read_extxyz(
    path: str | os.PathLike,
    *,
    energy_key: str | None = "REF_energy",
    forces_key: str | None = "REF_forces",
    stress_key: str | None = "REF_stress",
    charges_key: str | None = None,
    energy_unit: str = "eV",
    length_unit: str = "Ang",
    missing: str = "error",
    index: str | int | slice = ":",
) -> AtomsDataset:
    """Read frames of an extended XYZ file into an :class:`AtomsDataset` in eV and Å.

    Args:
        energy_key, forces_key, stress_key, charges_key: where the labels are; None skips one.
            The stress key is optional: frames without it simply have no stress.
        energy_unit, length_unit: units of the file.
        missing: ``"error"`` (a frame without energy or forces raises, naming frame and key) or
            ``"mask"`` (the label is masked out for that frame).
    """
    if missing not in ("error", "mask"):
        raise ValueError(f"missing must be 'error' or 'mask', got {missing!r}")
    path = check_file(path, "extended XYZ frames")
    frames = _read_frames(path, index)
    if not frames:
        raise DataError(f"{path}: the file holds no frames", file=path)

    numbers, positions, sizes, cells, pbcs = [], [], [], [], []
    labels: dict[str, list] = {"energy": [], "forces": [], "stress": [], "charges": []}
    masks: dict[str, list] = {"energy": [], "forces": [], "stress": []}
    for k, atoms in enumerate(frames):
        n = len(atoms)
        numbers.append(atoms.numbers)
        positions.append(atoms.positions)
        sizes.append(n)
        cells.append(np.asarray(atoms.cell[:], dtype=np.float64))
        pbcs.append(np.asarray(atoms.pbc, dtype=bool))
        for name, key, per_atom, shape in (
            ("energy", energy_key, False, ()),
            ("forces", forces_key, True, (n, 3)),
            ("stress", stress_key, False, (3, 3)),
            ("charges", charges_key, True, (n,)),
        ):
            where = f"{path}: frame {k}"
            try:
                value = _get(atoms, key, per_atom)
            except (TypeError, ValueError) as err:  # a label that is not numbers
                raise DataError(
                    f"{where}: {name} '{key}' is not numbers ({err})",
                    file=path,
                    field=key,
                    frame=k,
                    accepted="numbers",
                ) from None
            if value is None:
                if key is not None and (
                    (name in ("energy", "forces") and missing == "error") or name == "charges"
                ):
                    have = sorted(atoms.arrays if per_atom else atoms.info)
                    raise DataError(
                        f"{where} has no {name} under key '{key}' (it has {have}); pass "
                        f"{name}_key=... for another key, or missing='mask' to accept it",
                        file=path,
                        field=key,
                        frame=k,
                    )
                labels[name].append(np.zeros(shape))
                if name in masks:
                    masks[name].append(False)
                continue
            if name == "stress":
                try:
                    value = _stress_3x3(value, where)
                except DataError as err:
                    raise DataError(str(err), file=path, field=key, frame=k) from None
            elif name == "energy":
                if value.size != 1:
                    raise DataError(
                        f"{where}: energy '{key}' has {value.size} numbers, expected 1",
                        file=path,
                        field=key,
                        frame=k,
                    )
                value = value.reshape(())
            elif value.shape != shape:
                raise DataError(
                    f"{where}: {name} '{key}' has shape {value.shape}, expected {shape}",
                    file=path,
                    field=key,
                    frame=k,
                )
            labels[name].append(value)
            if name in masks:
                masks[name].append(True)

    cell = np.stack(cells)
    pbc = np.stack(pbcs)
    has_cell = bool(np.abs(cell).sum() > 0 or pbc.any())

    def joined(name: str, per_atom: bool):
        if name in masks and not any(masks[name]):
            return None
        if name == "charges" and charges_key is None:
            return None
        return np.concatenate(labels[name]) if per_atom else np.stack(labels[name])

    pos, energy, forces, stress, cell = to_native_units(
        np.concatenate(positions),
        joined("energy", False),
        joined("forces", True),
        energy_unit,
        length_unit,
        stress=joined("stress", False),
        cell=cell,
        source=path,
    )
    return AtomsDataset(
        numbers=np.concatenate(numbers),
        positions=pos,
        offsets=np.concatenate([[0], np.cumsum(sizes)]),
        energy=energy,
        forces=forces,
        stress=stress,
        charges=joined("charges", True),
        cell=cell if has_cell else None,
        pbc=pbc if has_cell else None,
        energy_mask=None if energy is None else np.array(masks["energy"]),
        forces_mask=None if forces is None else np.array(masks["forces"]),
        stress_mask=None if stress is None else np.array(masks["stress"]),
        source=str(path),
    )


def write_extxyz(
    path: str | os.PathLike,
    ds: AtomsDataset,
    *,
    energy_key: str = "REF_energy",
    forces_key: str = "REF_forces",
    stress_key: str = "REF_stress",
    charges_key: str = "REF_charges",
    energy_unit: str = "eV",
    length_unit: str = "Ang",
) -> None:
    """Write every frame to extended XYZ (labels under the given keys; masked labels omitted)."""
    from ase.io import write

    conv = from_native_units(ds, energy_unit, length_unit)
    frames = []
    masks = {name: ds.label_mask(name) for name in ("energy", "forces", "stress")}
    for k in range(len(ds)):
        s = ds.frame_slice(k)
        atoms = ds.to_atoms(k)
        atoms.positions = conv["positions"][s]
        if conv["cell"] is not None:
            atoms.cell = conv["cell"][k]
        if masks["energy"][k]:
            atoms.info[energy_key] = float(conv["energy"][k])
        if masks["forces"][k]:
            atoms.arrays[forces_key] = np.array(conv["forces"][s])
        if masks["stress"][k]:
            atoms.info[stress_key] = np.array(conv["stress"][k]).reshape(9)
        if ds.charges is not None:
            atoms.arrays[charges_key] = np.array(ds.charges[s])
        frames.append(atoms)
    with atomic_path(path, ".xyz") as tmp:
        write(tmp, frames, format="extxyz")
