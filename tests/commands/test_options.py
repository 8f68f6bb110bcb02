"""Options built from config dataclasses (noether.commands.options) and the commands that use them."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from noether.commands.options import add_options, attribute_docs, config_from_args, option_values


@dataclass(frozen=True)
class Toy:
    """A config of every kind of field.

    Attributes:
        n_bodies: bodies per system,
            continued on a second line.
        lo, hi: a range.
    """

    n_bodies: int = 3
    lo: float = 0.0
    hi: float = 1.0
    mode: Literal["fast", "exact"] = "fast"
    ground: bool = True
    sizes: tuple[int, ...] = (10, 100)
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    names: list[str] = field(default_factory=lambda: ["a"])
    out: Path = Path("runs/x")
    chain: str | None = None
    """the chain to run."""
    rate: float = field(default=0.5, metadata={"help": "a rate"})

    def __post_init__(self) -> None:
        if self.lo > self.hi:
            raise ValueError(f"need lo <= hi, got {self.lo} and {self.hi}")


def _parser(**kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toy")
    add_options(parser, Toy, **kwargs)
    return parser


def _build(argv: list[str], **kwargs) -> Toy:
    parser = _parser(**kwargs)
    return config_from_args(parser.parse_args(argv), Toy)


def test_defaults_round_trip():
    assert _build([]) == Toy()


def test_every_kind_of_field_parses():
    argv = ["--n-bodies", "5", "--mode", "exact", "--no-ground", "--sizes", "1,2", "3"]
    argv += ["--gravity", "0", "0", "-1", "--names", "b,c", "--out", "o", "--chain", "c1"]
    toy = _build([*argv, "--lo", "0.5", "--rate", "2"])
    assert toy == Toy(
        n_bodies=5, lo=0.5, mode="exact", ground=False, sizes=(1, 2, 3), gravity=(0.0, 0.0, -1.0),
        names=["b", "c"], out=Path("o"), chain="c1", rate=2.0,
    )  # fmt: skip
    assert _build(["--gravity", "1,2,3"]).gravity == (1.0, 2.0, 3.0)
    assert _build(["--ground"]).ground is True


def test_renamed_flags_and_overrides():
    toy = _build(["--bodies", "7"], flags={"n_bodies": "--bodies"})
    assert toy.n_bodies == 7
    parser = _parser(include=["hi", "lo"], defaults={"hi": 5.0})
    assert [a.dest for a in parser._actions[1:]] == ["hi", "lo"]
    assert config_from_args(parser.parse_args([]), Toy, n_bodies=4) == Toy(n_bodies=4, hi=5.0)
    parser = _parser(overrides=True)
    args = parser.parse_args(["--hi", "2"])
    assert option_values(args, Toy) == {"hi": 2.0}


def test_help_shows_the_documentation_and_the_default_one_way():
    text = " ".join(_parser(help={"lo": "the lower end"}).format_help().split())
    assert "--n-bodies N bodies per system, continued on a second line (default: 3)" in text
    assert "--lo X the lower end (default: 0.0)" in text
    assert "--hi X a range (default: 1.0)" in text
    assert "--mode {fast,exact}" in text
    assert "--ground, --no-ground" in text and "(default: true)" in text
    assert "the chain to run (default: none)" in text
    assert "a rate (default: 0.5)" in text
    assert "(default: 10,100)" in text
    assert attribute_docs(Toy)["chain"] == "the chain to run."


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n-bodies", "x"], "argument --n-bodies: expected an integer, got 'x'"),
        (["--mode", "slow"], "argument --mode: invalid choice 'slow'; accepted: fast, exact"),
        (["--sizes", "1,y"], "argument --sizes: expected an integer, got 'y'"),
        (["--gravity", "1", "2"], "argument --gravity: expected 3 values, got 2: 1.0,2.0"),
        (["--lo", "2"], "--lo 2.0, --hi 1.0: need lo <= hi, got 2.0 and 1.0"),
    ],
)
def test_errors_name_the_option_the_value_and_what_is_accepted(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _build(argv)
    assert exit_info.value.code == 2
    assert f"toy: error: {message}" in capsys.readouterr().err


# Every option the commands had before they were built from dataclasses (docs and scripts use them).
OPTIONS_BEFORE = {
    "data nbody": ['--max-level', '--more-bodies', '--more-planets', '--no-plot', '--no-progress', '--out', '--overwrite', '--placement', '--planets', '--seed', '--shift-std', '--softening', '--test', '--test-shift', '--time', '--tolerance', '--train', '--val'],
    "data rigid": ['--float64', '--frames', '--gravity', '--max-bodies', '--min-bodies', '--no-ground', '--no-plot', '--no-progress', '--out', '--overwrite', '--points', '--scenes', '--seed', '--shard-size', '--steps-per-frame', '--timestep', '--workers'],
    "data molecules": ['--accuracy', '--equilibration', '--format', '--frames', '--friction', '--method', '--molecules', '--out', '--seed', '--stride', '--temperatures', '--test', '--timestep', '--val', '--workers'],
    "data polymers": ['--accuracy', '--cap', '--equilibration', '--families', '--frames', '--friction', '--lengths', '--method', '--out', '--seed', '--stride', '--temperatures', '--timestep', '--workers'],
    "data properties": ['--conformers', '--jitter', '--method', '--out', '--seed', '--smiles'],
    "study algebras": ['--batch-size', '--data', '--eval-every', '--lr', '--models', '--no-progress', '--out', '--preset', '--seeds', '--sizes', '--steps', '--width', '--workers'],
    "study polyget": ['--batch-size', '--data', '--held-out', '--hidden', '--layers', '--long-units', '--lr', '--md-compile', '--md-steps', '--md-temperatures', '--md-timestep', '--models', '--out', '--preset', '--seed', '--steps', '--train-units', '--workers'],
    "scaling": ['--chain', '--data', '--dry-run', '--fit-only', '--list', '--n-boot', '--no-progress', '--out', '--prepare', '--scale', '--spec', '--threads', '--workers'],
    "run": ['--data', '--no-progress', '--out', '--size', '--steps', '--width', '--workers'],
}  # fmt: skip


def _command_parser(command: str) -> argparse.ArgumentParser:
    module = "noether.commands." + command.replace(" ", "_")
    parser = argparse.ArgumentParser(prog=f"noether {command}")
    importlib.import_module(module).add_arguments(parser)
    return parser


@pytest.mark.parametrize("command", sorted(OPTIONS_BEFORE))
def test_commands_keep_every_option_and_document_each(command):
    parser = _command_parser(command)
    options = {o for a in parser._actions for o in a.option_strings}
    assert set(OPTIONS_BEFORE[command]) <= options
    for action in parser._actions:
        if action.option_strings != ["-h", "--help"]:
            assert "(default: " in action.help, (command, action.option_strings)
            assert not action.help.startswith("(default: "), (command, action.option_strings)


@pytest.mark.parametrize("command", sorted(OPTIONS_BEFORE))
def test_command_defaults_build_their_configs(command):
    """Every dataclass a command reads back builds from the defaults of its options."""
    parser = _command_parser(command)
    args = parser.parse_args([])
    for cls in args._config_options:
        config_from_args(args, cls)
