"""Equiformer and EquiformerProperties take configs that extend one EquiformerConfig (the
architecture, which the backbone reads): config-built and keyword-built models are identical,
and the config is what a checkpoint stores."""

from __future__ import annotations

import pytest
import torch

from noether.atoms.checkpoint import load_potential, save_potential
from noether.atoms.models.equiformer import (
    Equiformer,
    EquiformerBackbone,
    EquiformerConfig,
    EquiformerPotentialConfig,
    EquiformerProperties,
    EquiformerPropertiesConfig,
    GraphAttentionConfig,
    preset,
)
from noether.core.config import config_dict

TINY = preset("tiny")


def _same_parameters(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key, value in sa.items():
        torch.testing.assert_close(sb[key], value, rtol=0, atol=0)


def _built(cls, *args, **kwargs):
    torch.manual_seed(0)
    return cls(*args, **kwargs)


@pytest.mark.parametrize(
    ("cls", "config_cls", "extra"),
    [
        (Equiformer, EquiformerPotentialConfig, {"energy_scale": 2.0, "dtype": "float64"}),
        (EquiformerProperties, EquiformerPropertiesConfig, {"n_targets": 2, "reduce": "sum"}),
    ],
)
def test_config_and_keywords_build_the_same_model(cls, config_cls, extra):
    options = {**TINY, **extra}
    by_keywords = _built(cls, **options)
    by_config = _built(cls, config_cls(**options))
    # the architecture as one value, the model's own fields beside it
    by_parts = _built(cls, EquiformerConfig(**TINY), **extra)
    assert by_keywords.config == by_config.config == by_parts.config == config_cls(**options)
    _same_parameters(by_keywords, by_config)
    _same_parameters(by_keywords, by_parts)
    # the backbone reads the same architecture
    assert by_keywords.backbone.config == EquiformerConfig(**TINY)
    backbone = _built(EquiformerBackbone, EquiformerConfig(**TINY))
    _same_parameters(by_keywords.backbone, backbone.to(next(by_keywords.parameters()).dtype))
    assert "num_layers=2" in repr(by_keywords) and "alpha_drop" not in repr(by_keywords)


def test_the_attention_group():
    config = EquiformerPotentialConfig(**TINY, attention="dot", nonlinear_messages=False)
    assert config.graph_attention == GraphAttentionConfig("4x0e+2x1e+2x2e", 2, "dot", False, 0.0)


def test_fields_of_another_model_are_refused():
    with pytest.raises(TypeError, match=r"unknown option.*n_targets"):
        Equiformer(n_targets=2)
    with pytest.raises(TypeError, match=r"unknown option.*energy_scale"):
        EquiformerProperties(energy_scale=2.0)


def test_saved_potential_stores_the_config(tmp_path):
    model = _built(Equiformer, EquiformerConfig(**TINY), atomref={"H": -13.6}, dtype="float64")
    path = save_potential(tmp_path / "equiformer.pt", model)
    payload = torch.load(path, weights_only=True)
    assert "hparams" not in payload
    assert payload["config"] == {**config_dict(model.config), "radial_hidden": [16]}
    assert payload["config"] == model.hparams
    back = load_potential(path)
    assert back.config == model.config and back.dtype == torch.float64
    _same_parameters(model, back)
