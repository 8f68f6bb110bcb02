import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from noether.atoms.formats import read_dataset, read_extxyz, write_dataset
from noether.core.errors import DataError


def test_round_trip_mixed_set_with_masks_cell_and_stress(tmp_path, mixed):
    path = tmp_path / "mixed.xyz"
    write_dataset(path, mixed)
    text = path.read_text()
    assert "REF_energy" in text and "REF_forces" in text and "REF_stress" in text
    back = read_dataset(path, missing="mask", charges_key="REF_charges")
    assert back.n_atoms.tolist() == mixed.n_atoms.tolist()
    for name in ("energy", "forces", "stress"):
        assert back.label_mask(name).tolist() == mixed.label_mask(name).tolist(), name
    np.testing.assert_allclose(back.positions, mixed.positions, atol=1e-7)
    em, fm = mixed.label_mask("energy"), np.repeat(mixed.label_mask("forces"), mixed.n_atoms)
    np.testing.assert_allclose(back.energy[em], mixed.energy[em], rtol=1e-12)
    np.testing.assert_allclose(back.forces[fm], mixed.forces[fm], atol=1e-7)
    np.testing.assert_allclose(back.stress[2], mixed.stress[2], atol=1e-12)
    np.testing.assert_allclose(back.cell[2], mixed.cell[2], atol=1e-7)
    assert back.pbc[2].all() and not back.pbc[0].any()
    np.testing.assert_allclose(back.charges, mixed.charges, atol=1e-7)


def test_missing_label_is_an_error_naming_frame_and_key(tmp_path, mixed):
    write_dataset(tmp_path / "m.xyz", mixed)
    with pytest.raises(DataError, match=r"m.xyz: frame 1 has no energy under key 'REF_energy'"):
        read_extxyz(tmp_path / "m.xyz")


def test_configurable_keys_units_and_calculator_results(tmp_path):
    a = Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    a.info["dft_E"] = -0.5
    a.arrays["dft_F"] = np.full((3, 3), 0.1)
    write(tmp_path / "h.xyz", a, format="extxyz")
    ds = read_extxyz(
        tmp_path / "h.xyz", energy_key="dft_E", forces_key="dft_F", energy_unit="Hartree"
    )
    assert ds.energy[0] == pytest.approx(-0.5 * 27.211386, rel=1e-7)
    np.testing.assert_allclose(ds.forces, 0.1 * 27.211386024367243)
    b = a.copy()
    b.calc = SinglePointCalculator(b, energy=-3.0, forces=np.zeros((3, 3)))
    write(tmp_path / "calc.xyz", b, format="extxyz")
    ds = read_extxyz(tmp_path / "calc.xyz", energy_key="energy", forces_key="forces")
    assert ds.energy[0] == -3.0


def test_empty_and_corrupt_files(tmp_path):
    (tmp_path / "empty.xyz").write_text("")
    with pytest.raises(ValueError, match=r"empty.xyz: the file is empty"):
        read_extxyz(tmp_path / "empty.xyz")
    (tmp_path / "short.xyz").write_text("3\nProperties=species:S:1:pos:R:3\nH 0 0\n")
    with pytest.raises(ValueError, match=r"short.xyz: frame 0 announces 3 atoms but the file ends"):
        read_extxyz(tmp_path / "short.xyz")
    (tmp_path / "bad.xyz").write_text("1\nProperties=species:S:1:pos:R:3\nH 0 0\n")
    with pytest.raises(ValueError, match=r"bad.xyz: frame 0: not readable as extended XYZ"):
        read_extxyz(tmp_path / "bad.xyz")
    good = "2\nProperties=species:S:1:pos:R:3 REF_energy=1.0\nH 0 0 0\nH 1 0 0\n"
    (tmp_path / "xx.xyz").write_text(good + good.replace("H 1", "Xx 1"))
    with pytest.raises(ValueError, match=r"xx.xyz: frame 1: .*unknown element symbol 'Xx'"):
        read_extxyz(tmp_path / "xx.xyz", forces_key=None)
    assert len(read_extxyz(tmp_path / "xx.xyz", forces_key=None, index=0)) == 1
    (tmp_path / "nan.xyz").write_text(
        "2\nProperties=species:S:1:pos:R:3 REF_energy=1.0\nH 0 0 0\nH nan 0 0\n"
    )
    with pytest.raises(ValueError, match=r"nan.xyz: frame 0, atom 1: positions contains nan"):
        read_extxyz(tmp_path / "nan.xyz", forces_key=None)


@pytest.mark.parametrize("count, problem", [(10, "is the count too large"), (8, "too small")])
def test_a_wrong_atom_count_is_reported_at_its_frame(tmp_path, ethanol_like, count, problem):
    """ASE indexes the whole file before parsing, so its error came at frame 0 for any frame."""
    write_dataset(tmp_path / "e.xyz", ethanol_like)  # 5 frames of 9 atoms: 11 lines each
    lines = (tmp_path / "e.xyz").read_text().splitlines()
    assert lines[22] == "9"
    lines[22] = str(count)  # frame 2's atom count
    (tmp_path / "e.xyz").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"e.xyz: frame 2 announces {count} atoms.*{problem}"):
        read_extxyz(tmp_path / "e.xyz")
