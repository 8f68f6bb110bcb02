import json

import numpy as np
import pytest

pytest.importorskip("tblite")

from noether.atoms.formats import read_dataset, read_frame_info
from noether.atoms.xtb import XTBSampling, xtb_calculator
from noether.cli import main
from noether.commands.data_polymers import _make_part, merge_parts, part_path

TINY = XTBSampling(
    frames=4, temperatures=(300.0, 600.0), stride=2, equilibration=2, relax_fmax=0.0
).as_dict()


def test_a_part_carries_xtb_labels_and_family_info_and_merges(tmp_path):
    record = _make_part("pe", 1, TINY, "H", 0, str(tmp_path))
    _make_part("pvc", 1, TINY, "H", 0, str(tmp_path))
    assert record["atoms"] == 8 and record["frames"] == 4 and record["smiles"] == "CC"
    part = read_dataset(part_path(tmp_path, "pe", 1))
    check = part.to_atoms(3)
    check.calc = xtb_calculator()
    assert part.energy[3] == pytest.approx(check.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(part.forces[24:32], check.get_forces(), atol=2e-5)
    path = merge_parts(tmp_path, [("pvc", 1), ("pe", 1)])
    info = read_frame_info(path)
    assert info["family"].tolist() == ["pvc"] * 4 + ["pe"] * 4
    assert info["n_units"].tolist() == [1] * 8
    assert info["temperature"].tolist() == [300.0, 300.0, 600.0, 600.0] * 2
    merged = read_dataset(path)
    np.testing.assert_array_equal(merged.positions[32:], part.positions)
    assert set(merged.numbers[:32].tolist()) == {1, 6, 17}


@pytest.mark.slow
def test_command_is_deterministic_resumes_and_ignores_workers(tmp_path, capsys):
    args = ["data", "polymers", "--families", "pe,peo", "--lengths", "1,2", "--frames", "4,2"]
    args += ["--temperatures", "300,500", "--stride", "2", "--equilibration", "2"]
    assert main([*args, "--workers", "2", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "b")]) == 0
    a, b = (
        read_dataset(tmp_path / "a" / "polymers.h5"),
        read_dataset(tmp_path / "b" / "polymers.h5"),
    )
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.forces, b.forces)
    assert read_frame_info(tmp_path / "a" / "polymers.h5")["family"].tolist() == (
        ["pe"] * 4 + ["peo"] * 4 + ["pe"] * 2 + ["peo"] * 2
    )
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert [p["name"] for p in summary["parts"]] == ["pe_n1", "peo_n1", "pe_n2", "peo_n2"]
    assert (tmp_path / "a" / "summary.png").stat().st_size > 0
    capsys.readouterr()
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "a")]) == 0
    assert "0 to run, 4 reused" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--families", "pe,nope", "--out", str(tmp_path / "c")])
    assert exit_info.value.code == 2
    assert "invalid choice 'nope'" in capsys.readouterr().err


def _tree(folder):
    """Every file under ``folder`` with its bytes' hash."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_other_settings_are_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "poly"
    args = ["data", "polymers", "--families", "pe", "--lengths", "1", "--frames", "4"]
    args += ["--temperatures", "300", "--stride", "2", "--equilibration", "2", "--workers", "1"]
    args += ["--out", str(out), "--no-progress"]
    assert main(args) == 0
    before = _tree(out)
    capsys.readouterr()
    assert main(args) == 0  # the same settings: resumed, nothing to run
    assert "0 to run, 1 reused" in capsys.readouterr().out
    after = _tree(out)
    assert after["parts/pe_n1.h5"] == before["parts/pe_n1.h5"]
    before = after
    assert main([*args, "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(out) in err and "seed 0 -> 1" in err and "--overwrite" in err
    assert _tree(out) == before
    assert main([*args, "--seed", "1", "--overwrite"]) == 0
    assert "1 to run, 0 reused" in capsys.readouterr().out
    record = json.loads((out / "parts" / "pe_n1.json").read_text())
    assert record["seed"] == 1


def test_progress_off_a_terminal_is_plain_lines(tmp_path, capsys):
    args = ["data", "polymers", "--families", "pe", "--lengths", "1", "--frames", "4"]
    args += ["--temperatures", "300", "--stride", "2", "--equilibration", "2", "--workers", "1"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "parts 1/1 (100%)" in err
    assert main([*args, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "parts 1/1" not in capsys.readouterr().err
