"""The `noether` command: parses arguments and hands off to the module that does the work.

Subcommands are registered here by module path and imported only when used (``importlib``), so
`noether --help` stays fast and does not load torch: this lazy dispatch is the one place in
noether where a module of noether is imported after the top of a file (tests/test_layers.py).
A command module exposes ``add_arguments(parser)`` and ``main(args) -> int``; most build their
options from config dataclasses with :mod:`noether.commands.options` (docs/commands.md).
A value that is a dict is a command group (``noether data nbody``).

:func:`main` returns the command's exit status. Every error a user can cause ends the same way
on every command: one line ``noether <command>: error: <message>`` on stderr and status 2. Those
are argparse's usage errors, a value the command refuses (``parser.error``), and the exceptions
of :data:`USER_ERRORS` that the command raises: ``ValueError`` (``ConfigError``, ``DataError``,
a corrupt checkpoint) and ``OSError`` (a missing or unreadable file, a folder given for a file,
a full disk), shown with the file they name. ``noether --debug <command>`` (or
``NOETHER_DEBUG=1``) prints their traceback too. Any other exception is a bug in noether: its
traceback is shown and the status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from noether import __version__

# name -> (module, one-line help) or name -> (group help, {subname: (module, help)})
COMMANDS: dict[str, tuple] = {
    "run": ("noether.commands.run", "run the main job on its built-in default"),
    "train": ("noether.commands.train", "train a model on a task from a YAML config"),
    "keys": ("noether.commands.keys", "the config keys of a task or model: type, default, unit"),
    "evaluate": ("noether.commands.evaluate", "test metrics and parity plots of a trained run"),
    "scaling": (
        "noether.commands.scaling",
        "the scaling-law study: GATr vs the Transformer on rigid bodies",
    ),
    "data": (
        "generate datasets with noether's own simulators",
        {
            "nbody": ("noether.commands.data_nbody", "gravitational n-body systems (npz splits)"),
            "rigid": ("noether.commands.data_rigid", "MuJoCo rigid-body scenes (HDF5 shards)"),
            "molecules": (
                "noether.commands.data_molecules",
                "GFN2-xTB MD reference data for molecules (rMD17-style set by default)",
            ),
            "polymers": (
                "noether.commands.data_polymers",
                "GFN2-xTB MD of capped polymer oligomers with family labels (PolyGET)",
            ),
            "properties": (
                "noether.commands.data_properties",
                "GFN2-xTB gap, dipole and energy of small organic molecules (QM9-style)",
            ),
        },
    ),
    "study": (
        "experiments that answer a paper's question",
        {
            "algebras": (
                "noether.commands.study_algebras",
                "EGA / PGA / iPGA / CGA GATr and the Transformer on n-body",
            ),
            "polyget": (
                "noether.commands.study_polyget",
                "PolyGET: force-only vs joint ET on polymer families (held out, longer, MD)",
            ),
            "finetune": (
                "noether.commands.study_finetune",
                "an ET fine-tuned on a new molecule vs one trained from scratch on its frames",
            ),
        },
    ),
    "md": ("noether.commands.md", "molecular dynamics with a trained potential (NVE or Langevin)"),
    "export": ("noether.commands.export", "export a trained potential to one .pt2 file"),
    "slmc": (
        "noether.commands.slmc",
        "self-learning Monte Carlo study of the double-exchange model",
    ),
}


USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)
"""Exceptions a user can cause (bad value, bad data, bad or missing file, full disk): one line
and status 2. ``ConfigError`` and ``DataError`` are ``ValueError``s."""

DEBUG_VARIABLE = "NOETHER_DEBUG"
"""Set to 1 for tracebacks of user errors, as ``noether --debug`` does."""


def describe_error(error: BaseException) -> str:
    """The one-line message of a user error: an ``OSError`` of the operating system as
    ``<what>: <file>`` (``no space left on device: runs/x/last.ckpt``), else its text."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        what = error.strerror[:1].lower() + error.strerror[1:]
        files = [error.filename] + ([error.filename2] if error.filename2 is not None else [])
        return f"{what}: {' -> '.join(map(str, files))}"
    text = " ".join(line.strip() for line in str(error).strip().splitlines())
    return text or type(error).__name__


def _debug_requested(argv: list[str]) -> bool:
    """``--debug`` before the command, or ``NOETHER_DEBUG`` set to anything but 0/empty."""
    flag = False
    for token in argv:
        if token == "--debug":
            flag = True
        elif not token.startswith("-"):
            break
    return flag or os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
    )


def _add(subparsers: argparse._SubParsersAction, name: str, entry: tuple) -> None:
    first, second = entry
    if isinstance(second, dict):
        group = subparsers.add_parser(name, help=first, description=first)
        inner = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)
        for sub_name, sub_entry in second.items():
            _add(inner, sub_name, sub_entry)
        return
    parser = subparsers.add_parser(name, help=second, description=second)
    # The module adds its own arguments in main(), once this command is chosen.
    parser.set_defaults(_module=first)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noether",
        description="Equivariant transformers for 3D geometry and physics.",
    )
    parser.add_argument("--version", action="version", version=f"noether {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an error too (or set {DEBUG_VARIABLE}=1)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, entry in COMMANDS.items():
        _add(subparsers, name, entry)
    return parser


def _command_path(argv: Sequence[str]) -> list[str]:
    """The chain of command names at the start of argv (before the first option)."""
    path: list[str] = []
    table: dict = COMMANDS
    argv = list(argv)
    while argv and argv[0] == "--debug":  # the one global option before a command
        argv.pop(0)
    for token in argv:
        if token.startswith("-") or token not in table:
            break
        path.append(token)
        entry = table[token]
        if not isinstance(entry[1], dict):
            break
        table = entry[1]
    return path


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    path = _command_path(argv)
    entry: tuple | None = None
    table: dict = COMMANDS
    for name in path:
        entry = table[name]
        if isinstance(entry[1], dict):
            table = entry[1]
    if entry is not None and not isinstance(entry[1], dict):
        # Rebuild the chosen leaf parser with its module's own arguments.
        module = importlib.import_module(entry[0])
        leaf = parser
        for name in path:
            sub_action = next(a for a in leaf._actions if isinstance(a, argparse._SubParsersAction))
            leaf = sub_action.choices[name]
        leaf.set_defaults(_config_parser=leaf)  # options.fail reports through it (exit 2)
        module.add_arguments(leaf)
        args = parser.parse_args(argv)
        try:
            return int(module.main(args) or 0)
        except SystemExit as exit:  # parser.error of a value the command refused: status 2
            return exit.code if isinstance(exit.code, int) else 1
        except BrokenPipeError:  # `noether keys task atoms | head`: the reader left, no error
            sys.stdout = open(os.devnull, "w")  # nothing more may reach the closed pipe
            return 141
        except USER_ERRORS as error:
            if _debug_requested(argv):
                traceback.print_exc()
            print(f"noether {' '.join(path)}: error: {describe_error(error)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"noether {' '.join(path)}: interrupted", file=sys.stderr)
            return 130
    parser.parse_args(argv)  # prints help or an error for an incomplete command
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
