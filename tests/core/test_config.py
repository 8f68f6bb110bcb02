"""Configs as values (noether.core.config) and their YAML round trip (noether.core.validation)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

import pytest
import torch
import yaml

from noether.core.config import config_class, config_dict, config_repr, make_config
from noether.core.validation import (
    ConfigError,
    config_yaml,
    read_config,
    signature_fields,
    write_config,
)


@dataclass(frozen=True)
class Head:
    heads: int = 4
    """Attention heads."""
    dropout: float = 0.0


@dataclass(frozen=True)
class Toy:
    width: int = 8
    """Channels."""
    kind: str = "mlp"
    scale: float | None = None
    widths: tuple[int, ...] = (4, 4)
    table: dict[str, float] = field(default_factory=dict)
    head: Head = field(default_factory=Head)
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class WiderToy(Toy):
    extra: bool = False


class Model(torch.nn.Module):
    def __init__(self, config: Toy | None = None, /, **options: Any) -> None:
        super().__init__()
        self.config = make_config(Toy, config, options)


def plain(width: int = 3, *, name: str = "x") -> None: ...


def test_make_config_from_nothing_an_instance_a_mapping_and_keywords():
    assert make_config(Toy, None, {}) == Toy()
    assert make_config(Toy, Toy(width=2), {}) == Toy(width=2)
    assert make_config(Toy, {"width": 2}, {"kind": "dot"}) == Toy(width=2, kind="dot")
    assert make_config(Toy, Toy(width=2), {"width": 5}) == Toy(width=5)  # keywords win
    # an instance of a base config, extended by the subclass's own fields
    assert make_config(WiderToy, Toy(width=2), {"extra": True}) == WiderToy(width=2, extra=True)
    # a subclass instance read as its base
    assert make_config(Toy, WiderToy(width=2, extra=True), {}) == Toy(width=2)
    with pytest.raises(FrozenInstanceError):
        Toy().width = 3  # type: ignore[misc]


def test_make_config_errors_name_the_option_and_the_accepted_ones():
    with pytest.raises(TypeError, match=r"Toy: unknown option\(s\) depth, wdth; accepted: "):
        make_config(Toy, None, {"wdth": 2, "depth": 1})
    with pytest.raises(
        TypeError, match="expected a Toy, a mapping of its fields or nothing, got int"
    ):
        make_config(Toy, 3, {})
    with pytest.raises(TypeError, match="got Head"):
        make_config(Toy, Head(), {})


def test_config_class_finds_the_dataclass_of_a_constructor():
    assert config_class(Model) is Toy
    assert config_class(plain) is None
    assert config_class(torch.nn.Linear) is None
    fields, open_ended = signature_fields(Model)
    assert [f.name for f in fields] == [
        "width",
        "kind",
        "scale",
        "widths",
        "table",
        "head",
        "dtype",
    ]
    assert not open_ended


def test_config_dict_is_plain_and_nested():
    assert config_dict(Toy(widths=(1, 2), table={"H": 1.0})) == {
        "width": 8,
        "kind": "mlp",
        "scale": None,
        "widths": [1, 2],
        "table": {"H": 1.0},
        "head": {"heads": 4, "dropout": 0.0},
        "dtype": torch.float32,
    }


def test_config_repr_lists_what_differs_from_the_defaults():
    assert config_repr(Toy()) == ""
    assert (
        config_repr(Toy(width=2, head=Head(heads=1))) == "width=2, head=Head(heads=1, dropout=0.0)"
    )
    assert "Model" in repr(Model(width=2)) and Model(width=2).config == Toy(width=2)


def test_yaml_round_trip(tmp_path):
    config = Toy(width=2, scale=0.5, widths=(3,), table={"C": -1.5}, head=Head(2, 0.1))
    config = make_config(Toy, config, {"dtype": torch.float64})
    text = config_yaml(config)
    assert yaml.safe_load(text)["dtype"] == "float64" and text.startswith("width: 2\n")
    path = write_config(config, tmp_path / "toy.yaml")
    assert read_config(Toy, path) == config
    assert read_config(Toy, yaml.safe_load(text)) == config
    # a training config's model section: the name is not a field
    (tmp_path / "run.yaml").write_text("model:\n  name: toy\n  width: 3\n")
    assert read_config(Toy, tmp_path / "run.yaml", section="model") == Toy(width=3)
    assert read_config(Toy, {}) == Toy()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"width": "wide"}, "Toy.width: got 'wide'; accepted: an integer"),
        ({"wdth": 2}, "unknown key Toy.wdth; accepted keys: width, kind, scale"),
        ({"widths": [1, "a"]}, r"Toy.widths\[1\]: got 'a'; accepted: an integer"),
        ({"scale": "big"}, "Toy.scale: got 'big'; accepted: a number"),
        ({"head": {"heads": 1.5}}, "Toy.head.heads: got 1.5; accepted: an integer"),
        ({"dtype": "int8"}, "Toy.dtype: got 'int8'; accepted: a floating dtype name"),
    ],
)
def test_read_config_errors_name_key_value_and_what_is_accepted(values, message):
    with pytest.raises(ConfigError, match=message):
        read_config(Toy, values)


def test_read_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_config(Toy, tmp_path / "none.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="a config is a mapping"):
        read_config(Toy, tmp_path / "list.yaml")
    (tmp_path / "run.yaml").write_text("task: {}\n")
    with pytest.raises(ConfigError, match="missing section model"):
        read_config(Toy, tmp_path / "run.yaml", section="model")
