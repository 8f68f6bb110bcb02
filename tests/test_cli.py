import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import noether
from noether import __version__
from noether.cli import COMMANDS, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "noether.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: noether" in out.stdout


def test_every_command_module_imports_and_has_its_interface():
    import importlib

    def leaves(table):
        for entry in table.values():
            if isinstance(entry[1], dict):
                yield from leaves(entry[1])
            else:
                yield entry[0]

    for module_name in leaves(COMMANDS):
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.main), module_name


# --- one error style: `noether <command>: error: <one line>`, status 2; tracebacks for bugs ---

LEGACY_MORSE = Path(__file__).parent / "data" / "legacy" / "potentials" / "morse.pt"


def _one_error_line(err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith(f"noether {command}: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_usage_errors_of_every_command_use_one_prefix(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["slmc", "--L", "x"])
    assert exit_info.value.code == 2
    line = _one_error_line(capsys.readouterr().err, "slmc")
    assert "argument --L: expected an integer, got 'x'" in line
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "molecules", "--val", "x"])
    assert exit_info.value.code == 2
    _one_error_line(capsys.readouterr().err, "data molecules")


def test_a_config_error(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  name: morse\ntask:\n  name: atoms\nnot_a_section: 1\n")
    assert main(["train", str(config), f"--run.dir={tmp_path / 'run'}"]) == 2
    assert "not_a_section" in _one_error_line(capsys.readouterr().err, "train")
    assert not (tmp_path / "run").exists()


def test_a_missing_file_and_a_corrupt_checkpoint(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.pt"), str(tmp_path / "x.pt2")]) == 2
    assert "none.pt" in _one_error_line(capsys.readouterr().err, "export")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(LEGACY_MORSE.read_bytes()[:200])  # a truncated checkpoint
    assert main(["export", str(corrupt), str(tmp_path / "x.pt2")]) == 2
    line = _one_error_line(capsys.readouterr().err, "export")
    assert f"{corrupt}: not a readable noether checkpoint" in line


def test_a_folder_given_for_a_file(tmp_path, capsys):
    folder = tmp_path / "x.pt2"
    folder.mkdir()  # empty, so not refused as output already there
    assert main(["export", str(LEGACY_MORSE), str(folder)]) == 2
    line = _one_error_line(capsys.readouterr().err, "export")
    assert line.startswith("noether export: error: is a directory: ") and line.endswith(str(folder))


def test_debug_shows_the_traceback_too(tmp_path, capsys, monkeypatch):
    argv = ["export", str(tmp_path / "none.pt"), str(tmp_path / "x.pt2")]
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "noether export: error: " in err
    monkeypatch.setenv("NOETHER_DEBUG", "1")
    assert main(argv) == 2
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("NOETHER_DEBUG", "0")
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_bug_still_shows_its_traceback_with_status_1(tmp_path):
    # A TypeError inside a command is noether's bug, not the user's: traceback, status 1.
    code = (
        "import sys, noether.cli as c, noether.commands.export as e\n"
        "e.main = lambda args: None + 1\n"
        "sys.exit(c.main(['export', 'a', 'b']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "TypeError" in out.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_full_disk_names_the_file(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    script = (
        f"mount -t tmpfs -o size=8k tmpfs {full} || exit 77; exec {sys.executable} -m noether.cli "
        f"data properties --smiles CCO --conformers 40 --no-progress --out {full}/p.npz"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(noether.__file__).parents[1])}
    out = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, env=env
    )
    if out.returncode == 77 or "unshare failed" in out.stderr:
        pytest.skip("cannot mount a small tmpfs here (needs root or user namespaces)")
    assert out.returncode == 2, out.stderr
    line = _one_error_line(out.stderr, "data properties")
    assert line == f"noether data properties: error: no space left on device: {full}/p.npz"


def test_a_closed_pipe_is_not_an_error():
    env = {**os.environ, "PYTHONPATH": str(Path(noether.__file__).parents[1])}
    script = f"{sys.executable} -m noether.cli keys task atoms | head -1"
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)
    assert out.stdout.startswith("| key |") and "error" not in out.stderr
