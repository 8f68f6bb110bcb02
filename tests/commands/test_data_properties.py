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
    assert "noether data properties: error: " in capsys.readouterr().err


def test_data_properties_progress_lines_and_overwrite(tmp_path, capsys):
    out = tmp_path / "props.npz"
    argv = ["data", "properties", "--smiles", "O", "--conformers", "2", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar drawn into a file or pipe, plain lines instead
    assert any(line.startswith("xTB 2/2 (100%) ") for line in err.splitlines())
    before = out.read_bytes()
    assert main([*argv, "--conformers", "1"]) == 2  # refused: nothing computed or written
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*argv, "--conformers", "1", "--overwrite", "--no-progress"]) == 0
    assert "xTB" not in capsys.readouterr().err
    assert len(PropertyDataset.load(out)) == 1
