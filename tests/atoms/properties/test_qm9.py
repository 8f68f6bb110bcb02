"""The QM9 reader on files written here in the public format (no download)."""

from __future__ import annotations

import tarfile

import numpy as np
import pytest

from noether.atoms.properties import QM9_TARGETS, read_qm9, read_qm9_xyz
from noether.atoms.properties.qm9 import HARTREE
from noether.core.errors import DataError

# Water and methane in the layout of dsgdb9nsd_*.xyz (values of the published records).
WATER = """3
gdb 3\t799.58812\t437.90386\t282.94545\t1.8511\t6.31\t-0.2928\t0.0687\t0.3615\t19.0002\t0.021375\t-76.404702\t-76.401867\t-76.400922\t-76.422349\t6.002\t
O\t-0.0343604951\t 0.9775395708\t 0.0076015923\t-0.589706
H\t 0.0647664923\t 0.0205721989\t 0.0015346341\t 0.294853
H\t 0.8717903737\t 1.3007924048\t 0.0006931336\t 0.294853
1691.1099\t3793.1213\t3890.2579
O\tO\t
InChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2
"""
METHANE = """5
gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t
C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689
H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921
H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922
H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923
H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923
1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078
C\tC\t
InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4
"""


def test_single_file(tmp_path):
    path = tmp_path / "dsgdb9nsd_000003.xyz"
    path.write_text(WATER)
    data = read_qm9_xyz(path)
    assert len(data) == 1
    assert data.numbers.tolist() == [8, 1, 1]
    assert np.allclose(data.positions[1], [0.0647664923, 0.0205721989, 0.0015346341])
    assert data.targets["mu"][0] == pytest.approx(1.8511)
    assert data.targets["gap"][0] == pytest.approx(0.3615 * HARTREE)
    assert data.targets["U0"][0] == pytest.approx(-76.404702 * HARTREE)
    assert data.targets["Cv"][0] == pytest.approx(6.002)
    assert set(data.targets) == set(QM9_TARGETS)
    assert data.units["gap"] == "eV" and data.units["mu"] == "D"
    assert data.names == ["O"]


def test_folder_and_archive_in_file_order(tmp_path):
    folder = tmp_path / "qm9"
    folder.mkdir()
    # Mathematica exponents as in the published files
    (folder / "dsgdb9nsd_000001.xyz").write_text(METHANE.replace("0.002150416", "2.150416*^-3"))
    (folder / "dsgdb9nsd_000003.xyz").write_text(WATER)
    data = read_qm9(folder)
    assert len(data) == 2 and data.offsets.tolist() == [0, 5, 8]
    assert data.positions[1, 0] == pytest.approx(0.002150416)
    assert data.targets["homo"].tolist() == pytest.approx([-0.3877 * HARTREE, -0.2928 * HARTREE])
    archive = tmp_path / "dsgdb9nsd.xyz.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for f in sorted(folder.iterdir()):
            tar.add(f, arcname=f.name)
    packed = read_qm9(archive)
    assert np.array_equal(packed.positions, data.positions)
    assert packed.targets["G"].tolist() == data.targets["G"].tolist()
    assert len(read_qm9(archive, limit=1)) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("x\n", "not an atom count"),
        ("3\ngdb 3 1 2\n", "announced"),
        (WATER.replace("gdb 3", "xyz 3"), "17 fields"),
        (WATER.replace("-0.0343604951", "abc"), "'abc' is not a number"),
        (WATER.replace("O\t-0.03", "Xx\t-0.03"), r"bad.xyz line 3: unknown element 'Xx'"),
        (WATER.replace("-0.0343604951", "nan"), r"bad.xyz line 3: 'nan' is not a finite number"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_qm9_xyz(path)


def test_a_damaged_archive_or_text_names_the_file(tmp_path):
    """tarfile, bz2 and the UTF-8 decoder raised their own errors, without the file."""
    folder = tmp_path / "xyz"
    folder.mkdir()
    (folder / "dsgdb9nsd_000003.xyz").write_text(WATER)
    archive = tmp_path / "qm9.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        tar.add(folder / "dsgdb9nsd_000003.xyz", arcname="dsgdb9nsd_000003.xyz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) - 40])
    with pytest.raises(DataError, match=r"qm9.tar.bz2: "):
        read_qm9(archive)
    (tmp_path / "latin.xyz").write_bytes(WATER.encode().replace(b"gdb 3", b"gdb \xe9"))
    with pytest.raises(DataError, match=r"latin.xyz: .*utf-8"):
        read_qm9_xyz(tmp_path / "latin.xyz")


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_qm9(tmp_path / "nothing")
