"""`noether data properties`: writes a readable property dataset and its plot."""

from __future__ import annotations

from noether.atoms.properties import PropertyDataset
from noether.cli import main


def test_data_properties_command(tmp_path, capsys):
    out = tmp_path / "props.npz"
    assert (
        main(["data", "properties", "--smiles", "O,CC", "--conformers", "2", "--out", str(out)])
        == 0
    )
    data = PropertyDataset.load(out)
    assert len(data) == 4 and set(data.targets) == {"energy", "homo", "lumo", "gap", "mu"}
    assert out.with_suffix(".png").stat().st_size > 0
    assert "4 molecules" in capsys.readouterr().out


def test_data_properties_rejects_bad_smiles(tmp_path, capsys):
    code = main(["data", "properties", "--smiles", "C1CC", "--out", str(tmp_path / "x.npz")])
    assert code == 2
    assert "C1CC" in capsys.readouterr().out
