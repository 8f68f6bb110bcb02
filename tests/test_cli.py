import subprocess
import sys

import pytest

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
