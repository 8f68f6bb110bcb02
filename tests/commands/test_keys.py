"""`noether keys`: every key of a task or model with its type, default and meaning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from noether.cli import main
from noether.commands.keys import key_table

DOCS = Path(__file__).parents[2] / "docs" / "training.md"


def test_keys_lists_the_registered_names(capsys):
    assert main(["keys"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^tasks: .*\batoms\b", out, re.M)
    assert re.search(r"^models: .*\bet\b", out, re.M)


def test_the_atoms_task_keys_with_type_default_and_unit(capsys):
    assert main(["keys", "task", "atoms"]) == 0
    rows = {r.split("|")[1].strip(): r for r in capsys.readouterr().out.splitlines()[2:]}
    assert "required" in rows["`task.path`"]
    assert (
        "a string or null" in rows["`task.energy_unit`"] and "`null`" in rows["`task.energy_unit`"]
    )
    assert "`10.0`" in rows["`task.forces_weight`"] and "eV²/Å²" in rows["`task.forces_weight`"]
    assert all(row.count("|") >= 5 for row in rows.values())


def test_model_keys_from_a_config_dataclass(capsys):
    assert main(["keys", "model", "et"]) == 0
    out = capsys.readouterr().out
    assert "| `model.cutoff` | a number | `5.0` | interaction cutoff in Å. |" in out


def test_an_unknown_name_is_one_error_line(capsys):
    assert main(["keys", "task", "nope"]) == 2
    err = capsys.readouterr().err
    assert "noether keys: error: task.name: unknown task 'nope'; available: " in err


@pytest.mark.parametrize(("kind", "name"), [("task", "atoms")])
def test_the_table_in_the_docs_is_the_command_output(kind, name):
    text = DOCS.read_text()
    start = f"<!-- noether keys {kind} {name} -->\n"
    end = f"<!-- end of noether keys {kind} {name} -->"
    assert start in text and end in text, "docs/training.md lost its generated table"
    documented = text.split(start, 1)[1].split(end, 1)[0]
    assert documented == key_table(kind, name) + "\n", (
        f"docs/training.md is stale: paste the output of `noether keys {kind} {name}`"
    )


KEYS = Path(__file__).parents[2] / "docs" / "keys.md"


@pytest.mark.parametrize("kind", ["task", "model"])
def test_docs_keys_lists_every_shipped_name_as_the_command_prints_it(kind):
    """docs/keys.md holds one generated table per task and model of the package."""
    from noether.core import registry

    text = KEYS.read_text()
    for name in registry.available(kind, package_only=True):
        start = f"<!-- noether keys {kind} {name} -->\n"
        end = f"<!-- end of noether keys {kind} {name} -->"
        assert start in text and end in text, f"docs/keys.md has no table of {kind} {name}"
        documented = text.split(start, 1)[1].split(end, 1)[0]
        assert documented == key_table(kind, name) + "\n", (
            f"docs/keys.md is stale: paste the output of `noether keys {kind} {name}`"
        )
