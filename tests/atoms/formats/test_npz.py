import numpy as np
import pytest
from ase import units

from noether.atoms.formats import read_dataset, read_rmd17, read_sgdml, write_dataset
from noether.atoms.formats.npz import write_rmd17, write_sgdml
from noether.core.errors import DataError

KCAL = units.kcal / units.mol


def test_sgdml_round_trip_in_native_units(tmp_path, ethanol_like):
    path = tmp_path / "md17_ethanol.npz"
    write_sgdml(path, ethanol_like)
    raw = np.load(path)
    assert raw["E"].shape == (5, 1) and str(raw["e_unit"]) == "kcal/mol"
    np.testing.assert_allclose(raw["E"][:, 0] * KCAL, ethanol_like.energy, rtol=1e-14)
    back = read_dataset(path)
    np.testing.assert_allclose(back.energy, ethanol_like.energy, rtol=1e-14)
    np.testing.assert_allclose(back.forces, ethanol_like.forces, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(back.positions, ethanol_like.positions)


def test_sgdml_units_from_file_and_from_argument(tmp_path):
    z, r = np.array([8, 1, 1]), np.ones((2, 3, 3))
    e, f = np.array([[-76.0], [-76.1]]), np.full((2, 3, 3), 0.01)
    np.savez(tmp_path / "ha.npz", z=z, R=r, E=e, F=f, e_unit="Hartree", r_unit="Bohr")
    ds = read_sgdml(tmp_path / "ha.npz")
    np.testing.assert_allclose(ds.energy, e[:, 0] * units.Hartree)
    np.testing.assert_allclose(ds.positions, units.Bohr)
    np.testing.assert_allclose(ds.forces, 0.01 * units.Hartree / units.Bohr)
    np.savez(tmp_path / "bare.npz", z=z, R=r, E=e, F=f)  # no metadata: the sGDML default
    np.testing.assert_allclose(read_sgdml(tmp_path / "bare.npz").energy, e[:, 0] * KCAL)
    ds = read_sgdml(tmp_path / "bare.npz", energy_unit="eV")
    np.testing.assert_allclose(ds.energy, e[:, 0])


def test_rmd17_round_trip_and_layout(tmp_path, ethanol_like):
    path = tmp_path / "rmd17_ethanol.npz"
    write_rmd17(path, ethanol_like)
    assert set(np.load(path).files) == {"nuclear_charges", "coords", "energies", "forces"}
    back = read_dataset(path)  # detected as rMD17 from its keys
    np.testing.assert_allclose(back.energy, ethanol_like.energy, rtol=1e-14)
    np.testing.assert_allclose(back.forces, ethanol_like.forces, rtol=1e-14, atol=1e-15)
    hartree = read_rmd17(path, energy_unit="Hartree")
    np.testing.assert_allclose(hartree.energy, ethanol_like.energy / KCAL * units.Hartree)


def test_missing_key_empty_and_corrupt_files(tmp_path):
    np.savez(tmp_path / "nokey.npz", nuclear_charges=[1, 1], coords=np.zeros((1, 2, 3)))
    with pytest.raises(DataError, match=r"nokey.npz: the rMD17 file has no 'energies' array"):
        read_rmd17(tmp_path / "nokey.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.npz: the file is empty"):
        read_sgdml(tmp_path / "empty.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"junk.npz: not a readable npz"):
        read_sgdml(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=[1])
    with pytest.raises(ValueError, match=r"neither sGDML .* nor rMD17"):
        read_dataset(tmp_path / "other.npz")


def test_bad_frame_in_file_is_named(tmp_path):
    r = np.zeros((3, 2, 3))
    r[:, 1, 0] = 1.0
    r[2, 1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", z=[1, 1], R=r)
    with pytest.raises(ValueError, match=r"nan.npz: frame 2, atom 1: positions contains nan"):
        read_sgdml(tmp_path / "nan.npz")
    np.savez(tmp_path / "z.npz", z=[1, 200], R=r[:2])
    with pytest.raises(ValueError, match=r"z.npz: frame 0, atom 1: atomic number 200"):
        read_sgdml(tmp_path / "z.npz")


def test_npz_refuses_mixed_sets_and_writes_nothing(tmp_path, mixed):
    with pytest.raises(ValueError, match=r"holds one molecule: frame 1 has 5 atoms"):
        write_dataset(tmp_path / "mixed.npz", mixed)
    assert list(tmp_path.iterdir()) == []
