"""GATr, PointGATr and Transformer take a config dataclass: config-built and keyword-built models
are the same model, the config is the checkpoint's model section, and nested groups resolve."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from noether.core.config import config_dict
from noether.core.validation import ConfigError
from noether.gatr import GATr, PointGATr, Transformer
from noether.gatr.nets import (
    GATrConfig,
    MLPConfig,
    PointGATrConfig,
    SelfAttentionConfig,
    TransformerConfig,
)
from noether.train.config import build, load_config, model_component, read_yaml

CONFIGS = Path(__file__).parents[3] / "configs"

CASES = [
    (GATr, GATrConfig, dict(algebra="pga", hidden_mv_channels=4, num_blocks=1, num_heads=2)),
    (
        PointGATr,
        PointGATrConfig,
        dict(algebra="cga", in_vectors=1, hidden_mv_channels=4, num_blocks=1, num_heads=2),
    ),
    (Transformer, TransformerConfig, dict(hidden_channels=8, num_blocks=1, num_heads=2)),
]


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(("cls", "config_cls", "options"), CASES)
def test_config_and_keywords_build_the_same_model(cls, config_cls, options):
    torch.manual_seed(0)
    by_keywords = cls(**options)
    torch.manual_seed(0)
    by_config = cls(config_cls(**options))
    torch.manual_seed(0)
    by_mapping = cls(options)
    assert by_keywords.config == by_config.config == by_mapping.config == config_cls(**options)
    for other in (by_config, by_mapping):
        assert _state(other).keys() == _state(by_keywords).keys()
        for key, value in _state(by_keywords).items():
            torch.testing.assert_close(_state(other)[key], value, rtol=0, atol=0)
    # a config with one field replaced by a keyword
    changed = cls(config_cls(**options), num_blocks=2)
    assert changed.config.num_blocks == 2 and len(changed.config.__dict__) == len(options) + len(
        [f for f in dataclasses.fields(config_cls) if f.name not in options]
    )


@pytest.mark.parametrize(("cls", "config_cls", "options"), CASES)
def test_unknown_options_and_positional_values_are_refused(cls, config_cls, options):
    with pytest.raises(TypeError, match=r"unknown option.*blocks.*accepted"):
        cls(blocks=2)
    with pytest.raises(TypeError, match=f"expected a {config_cls.__name__}"):
        cls(3)


@pytest.mark.parametrize(("cls", "config_cls", "options"), CASES)
def test_repr_names_the_options_that_differ_from_the_defaults(cls, config_cls, options):
    text = repr(cls(**options))
    assert "num_blocks=1" in text and "num_heads=2" in text
    assert "dropout" not in text  # a default
    assert repr(config_cls(**options)).startswith(config_cls.__name__ + "(")


def test_nested_groups_resolve_the_head_widths():
    config = GATrConfig(hidden_mv_channels=16, hidden_s_channels=32, num_heads=8, dropout=0.1)
    assert config.attention == SelfAttentionConfig(8, 2, 4, False, 1e-3)
    assert config.mlp == MLPConfig(2, 0.1)
    assert GATrConfig(hidden_s_channels=0).attention.head_s_channels == 0
    assert GATrConfig(head_mv_channels=3).attention.head_mv_channels == 3
    inner = PointGATrConfig(in_points=2, in_vectors=1, out_scalars=2).gatr()
    assert (inner.in_mv_channels, inner.out_mv_channels, inner.out_s_channels) == (3, 1, 2)
    assert TransformerConfig(hidden_channels=64, num_heads=4).attention.head_s_channels == 16


def test_yaml_model_section_is_the_config(tmp_path):
    """The validator reads the dataclass: the training config's model section checks each field."""
    raw = {
        "model": {"name": "gatr", "algebra": "pga", "num_blocks": 1},
        "task": {"name": "toy-regression", "n_samples": 16},
    }
    config = load_config(raw)
    assert GATr(**config.model.options).config == GATrConfig(algebra="pga", num_blocks=1)
    assert config_dict(GATrConfig(algebra="pga", num_blocks=1)) == config.model.options
    # what a training checkpoint stores as its model section
    expected = {"name": "gatr", **config_dict(GATrConfig(algebra="pga", num_blocks=1))}
    assert config.to_dict()["model"] == expected
    with pytest.raises(ConfigError, match=r"model.num_blocks: got 'two'; accepted: an integer"):
        load_config({**raw, "model": {"name": "gatr", "num_blocks": "two"}})
    with pytest.raises(ConfigError, match=r"unknown key model\.blocks; accepted keys: algebra"):
        load_config({**raw, "model": {"name": "gatr", "blocks": 2}})


@pytest.mark.parametrize(
    "name",
    ["nbody-gatr.yaml", "nbody-transformer.yaml", "rigid-gatr.yaml", "rigid-transformer.yaml"],
)
def test_shipped_configs_model_sections_still_validate_and_build(name):
    """configs/*.yaml keep their flat keys: each model section validates and builds (the task's
    channel counts come from its defaults, so only the model's own keys are checked here)."""
    section = read_yaml(CONFIGS / name)["model"]
    component = model_component(section)
    model = build(component, "model")
    net = getattr(model, "net", model)  # the rigid-body models wrap a GATr or a Transformer
    assert isinstance(net.config, GATrConfig | TransformerConfig)
    assert dataclasses.is_dataclass(model.config)
