"""Property: every reader of :mod:`noether.atoms.formats`, fed a valid file that a random
corruption has damaged, returns the file's dataset or raises a ValueError/OSError naming the file.

Files are written by noether's own writers (extended XYZ, HDF5, sGDML and rMD17 npz), then
damaged: truncated at a random byte, random bytes flipped, fields deleted or renamed, arrays given
a wrong dtype or shape, NaN or inf written into them, atom counts that disagree. What is checked:

- no other exception type leaks out, and the error's message names the file;
- a read that succeeds gives the dataset of the valid file (:func:`same_dataset`), or the dataset
  the damaged file legitimately describes (``expect`` below: an optional field deleted);
- where the format cannot tell a damaged file from a valid one (a flipped digit of a number in a
  text file; a flipped byte of an uncompressed HDF5 dataset), a read that succeeds must still give
  a valid dataset: finite numbers, real elements (AtomsDataset checks these itself).

Flipped bytes of an HDF5 file land in its raw data only, not in its headers: the HDF5 library
can crash (a segfault) on a damaged header of a file without metadata checksums (the layout is
written with h5py's default, earliest-version headers), and nothing above the library can catch
that; metadata checksums (``libver="v110"``) would be a change of the file layout.

``-m slow`` runs many more examples.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from atoms_testkit import random_molecule
from corruption_testkit import corrupt_bytes, damaged_array, hdf5_data_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noether.atoms.dataset import AtomsDataset
from noether.atoms.formats import read_dataset, write_dataset

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(FAST, max_examples=3000)
FILES = {"extxyz": "d.xyz", "hdf5": "d.h5", "sgdml": "d.npz", "rmd17": "d.npz"}
READ_OPTIONS = {"extxyz": {"missing": "mask"}}
SAME, LOOSE = "same", "loose"  # expectations: the valid file's dataset / any valid dataset


def mixed_frames() -> AtomsDataset:
    """Four frames of 2 to 4 atoms, one periodic, with partial energy, force and stress labels."""
    rng = np.random.default_rng(7)
    sizes = [3, 4, 2, 3]
    cell = np.zeros((4, 3, 3))
    cell[1] = np.diag([6.0, 7.0, 8.0]) + 0.2
    pbc = np.zeros((4, 3), bool)
    pbc[1] = True
    stress = np.zeros((4, 3, 3))
    stress[1] = np.eye(3) * 0.01
    return AtomsDataset(
        numbers=rng.integers(1, 10, sum(sizes)),
        positions=np.concatenate([random_molecule(n, rng) for n in sizes]),
        offsets=np.concatenate([[0], np.cumsum(sizes)]),
        energy=rng.normal(size=4),
        forces=rng.normal(size=(sum(sizes), 3)),
        cell=cell,
        pbc=pbc,
        stress=stress,
        charges=rng.normal(size=sum(sizes)) * 0.1,
        energy_mask=np.array([True, False, True, True]),
        forces_mask=np.array([True, True, True, False]),
        stress_mask=np.array([False, True, False, False]),
    )


def one_molecule() -> AtomsDataset:
    """Four labelled frames of one 3-atom molecule (what the npz formats hold)."""
    rng = np.random.default_rng(3)
    pos = np.stack([random_molecule(3, rng) for _ in range(4)])
    return AtomsDataset.from_arrays([8, 1, 1], pos, rng.normal(size=4), rng.normal(size=(4, 3, 3)))


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> dict[str, tuple[Path, AtomsDataset]]:
    """Per format: a valid file and its dataset as read back."""
    root = tmp_path_factory.mktemp("valid")
    out = {}
    for fmt, name in FILES.items():
        (root / fmt).mkdir()
        path = root / fmt / name
        write_dataset(path, mixed_frames() if fmt in ("extxyz", "hdf5") else one_molecule(), fmt)
        out[fmt] = (path, read(path, fmt))
    return out


def read(path: Path, fmt: str) -> AtomsDataset:
    return read_dataset(path, format=fmt, **READ_OPTIONS.get(fmt, {}))


def same_dataset(a: AtomsDataset, b: AtomsDataset) -> bool:
    """Equal frames, elements, positions, cells, charges, and labels where they are present."""
    if len(a) != len(b) or not np.array_equal(a.offsets, b.offsets):
        return False
    for name in ("numbers", "positions"):
        if not np.array_equal(getattr(a, name), getattr(b, name)):
            return False
    if not (np.array_equal(a.cell_array(), b.cell_array()) and np.array_equal(a.pbc, b.pbc)):
        return False
    if (a.charges is None) != (b.charges is None) or (
        a.charges is not None and not np.array_equal(a.charges, b.charges)
    ):
        return False
    for label in ("energy", "forces", "stress"):
        mask = a.label_mask(label)
        if not np.array_equal(mask, b.label_mask(label)):
            return False
        if mask.any():
            rows = np.repeat(mask, a.n_atoms) if label == "forces" else mask
            if not np.array_equal(getattr(a, label)[rows], getattr(b, label)[rows]):
                return False
    return True


def without(ds: AtomsDataset, *names: str) -> AtomsDataset:
    """``ds`` as a file without the fields ``names`` describes it (no mask: every frame has the
    label)."""
    arrays = {f: getattr(ds, f) for f in AtomsDataset.__dataclass_fields__}
    arrays.update(dict.fromkeys(names))
    return AtomsDataset(**arrays)


# ---------------------------------------------------------------------------------- corruptions
NPZ_KEYS = {
    "sgdml": {
        "z": SAME,
        "R": SAME,
        "E": ("energy",),
        "F": ("forces",),
        "e_unit": SAME,
        "r_unit": SAME,
    },
    "rmd17": dict.fromkeys(("nuclear_charges", "coords", "energies", "forces"), SAME),
}


def corrupt_npz(data: st.DataObject, path: Path, fmt: str) -> str | tuple[str, ...]:
    arrays = dict(np.load(path))
    key = data.draw(st.sampled_from(sorted(NPZ_KEYS[fmt])), label="key")
    how = data.draw(st.sampled_from(["delete", "rename", "damage"]), label="how")
    value = arrays.pop(key)
    if how == "rename":
        arrays[key + "_old"] = value
    elif how == "damage":
        if key.endswith("unit"):
            arrays[key] = np.array(data.draw(st.sampled_from(["furlong", 1.5]), label="unit"))
        else:
            arrays[key] = damaged_array(data, value)
        np.savez(path, **arrays)
        return SAME
    np.savez(path, **arrays)
    return NPZ_KEYS[fmt][key]


H5_OPTIONAL = ("charges", "pbc", "energy_mask", "forces_mask", "stress_mask")


def corrupt_hdf5(data: st.DataObject, path: Path) -> str | tuple[str, ...]:
    with h5py.File(path, "r+") as f:
        what = data.draw(st.sampled_from(["dataset", "attribute"]), label="what")
        if what == "attribute":
            key = data.draw(st.sampled_from(["format", "energy_unit", "length_unit"]))
            f.attrs[key] = data.draw(st.sampled_from(["furlong", "noether.other", 3]))
            return SAME
        key = data.draw(st.sampled_from(sorted(f)), label="dataset")
        how = data.draw(st.sampled_from(["delete", "rename", "damage"]), label="how")
        value = f[key][()]
        del f[key]
        if how == "rename":
            f[key + "_old"] = value
        elif how == "damage":
            bad = damaged_array(data, value)
            f[key] = bad.astype(h5py.string_dtype()) if bad.dtype.kind == "U" else bad
            return SAME
    return (key,) if key in H5_OPTIONAL else SAME


def corrupt_extxyz(data: st.DataObject, path: Path) -> str:
    """Line edits that break the layout or the numbers: never a valid file."""
    lines = path.read_text().splitlines()
    heads, i = [], 0
    while i < len(lines):
        heads.append(i)
        i += int(lines[i]) + 2
    atom_lines = [k for k in range(len(lines)) if k not in heads and k - 1 not in heads]
    how = data.draw(st.sampled_from(["count", "delete", "duplicate", "number", "energy"]))
    if how == "count":
        k = data.draw(st.sampled_from(heads), label="frame")
        n = int(lines[k])
        lines[k] = str(data.draw(st.integers(-1, n + 3).filter(lambda m: m != n), label="n"))
    elif how == "delete":
        del lines[data.draw(st.integers(0, len(lines) - 1), label="line")]
    elif how == "duplicate":
        k = data.draw(st.integers(0, len(lines) - 1), label="line")
        lines.insert(k, lines[k])
    elif how == "number":
        k = data.draw(st.sampled_from(atom_lines), label="line")
        tokens = lines[k].split()
        at = data.draw(st.integers(1, len(tokens) - 1), label="column")
        tokens[at] = data.draw(st.sampled_from(["nan", "inf", "-inf", "NaN", "1.0.0", "x", ""]))
        lines[k] = " ".join(tokens)
    else:
        k = data.draw(st.sampled_from([h + 1 for h in heads if "REF_energy=" in lines[h + 1]]))
        head, _, tail = lines[k].partition("REF_energy=")
        _, _, rest = tail.partition(" ")
        lines[k] = (
            f"{head}REF_energy={data.draw(st.sampled_from(['nan', 'inf', '-inf', 'e']))} {rest}"
        )
    path.write_text("\n".join(lines) + "\n")
    return SAME


# ------------------------------------------------------------------------------------- the check
def check(fmt: str, data: st.DataObject, valid: dict, tmp_path: Path) -> None:
    source, reference = valid[fmt]
    path = tmp_path / f"damaged-{fmt}" / source.name
    path.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, path)
    if data.draw(st.booleans(), label="bytes"):
        where = hdf5_data_bytes(source) if fmt == "hdf5" else None
        raw = corrupt_bytes(data, source.read_bytes(), where)
        path.write_bytes(raw)
        # zip (npz) checks a CRC of every array; HDF5 knows its end but not its header's bytes
        expect = SAME if fmt in ("sgdml", "rmd17") else LOOSE
        if fmt == "hdf5" and len(raw) < len(source.read_bytes()):
            expect = SAME
    elif fmt == "extxyz":
        expect = corrupt_extxyz(data, path)
    elif fmt == "hdf5":
        expect = corrupt_hdf5(data, path)
    else:
        expect = corrupt_npz(data, path, fmt)
    try:
        ds = read(path, fmt)
    except (ValueError, OSError) as error:
        assert path.name in str(error), f"{type(error).__name__} without the file: {error}"
        return
    if expect == LOOSE:
        assert isinstance(ds, AtomsDataset) and len(ds) >= 1
        return
    expected = reference if expect == SAME else without(reference, *expect)
    assert same_dataset(ds, expected), f"{path.name} read as a different dataset ({expect})"


@pytest.mark.parametrize("fmt", list(FILES))
@FAST
@given(data=st.data())
def test_a_damaged_file_reads_right_or_raises_naming_it(fmt, data, valid, tmp_path):
    check(fmt, data, valid, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(FILES))
@SLOW
@given(data=st.data())
def test_a_damaged_file_reads_right_or_raises_naming_it_many_examples(fmt, data, valid, tmp_path):
    check(fmt, data, valid, tmp_path)
