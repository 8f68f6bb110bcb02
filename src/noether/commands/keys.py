"""`noether keys [task|model] [NAME]`: the config keys a task or a model accepts.

``noether keys`` lists the registered tasks and models; ``noether keys task atoms`` prints one row
per key of the ``task:`` section: its type, its default and its help (with the unit), read from
the constructor's signature and docstring (``Args:``), or from the config dataclass it takes
(``Attributes:``), with :mod:`noether.core.validation` (the same machinery that checks a config).
The output is a Markdown table; docs/training.md holds the atoms task's, checked against this
command by tests/commands/test_keys.py.
"""

from __future__ import annotations

import argparse
import re

from noether.commands.options import attribute_docs, fail
from noether.core import registry
from noether.core.config import config_class
from noether.core.validation import describe, signature_fields

KINDS = ("task", "model")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind", nargs="?", choices=KINDS, help="which section: task or model (default: both)"
    )
    parser.add_argument("name", nargs="?", help="a registered name (default: list the names)")


def _show(value: object) -> str:
    """A default as a YAML config writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or "''"
    return str(value)


def _help_texts(target: object) -> dict[str, str]:
    config = config_class(target)
    if config is not None:
        return attribute_docs(config)
    docs = attribute_docs(target, "Args:")
    init = getattr(target, "__init__", None)
    if init is not None and init.__doc__:
        docs = {**attribute_docs(init, "Args:"), **docs}
    return docs


def key_table(kind: str, name: str) -> str:
    """The Markdown table of the keys of ``<kind>: {name: <name>}``."""
    target = registry.lookup(kind, name)
    fields, open_ended = signature_fields(target)
    docs = _help_texts(target)
    rows = ["| key | type | default | meaning (unit) |", "|---|---|---|---|"]
    for field in fields:
        default = "required" if field.required else f"`{_show(field.default)}`"
        text = re.sub(r"``(.*?)``", r"`\1`", docs.get(field.name, ""))
        text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("|", "\\|")
        kind_text = describe(field.annotation).replace("|", "\\|")
        rows.append(f"| `{kind}.{field.name}` | {kind_text} | {default} | {text} |")
    if open_ended:
        rows.append(f"| `{kind}.<any>` | any value | | passed on to the {kind} |")
    return "\n".join(rows)


def main(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    if args.name is None:
        for kind in kinds:
            print(f"{kind}s: {', '.join(registry.available(kind))}")
        return 0
    try:
        print(key_table(args.kind, args.name))
    except KeyError as error:
        fail(args, f"{args.kind}.name: {error.args[0]}")
    return 0
