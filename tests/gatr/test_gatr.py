"""The models are registered with the training stack and their options pass its config checks."""

from __future__ import annotations

import pytest

from noether.core.registry import lookup
from noether.gatr import GATr, PointGATr, Transformer
from noether.train.validation import ConfigError, check_mapping, signature_fields


def test_registered_names():
    assert lookup("model", "gatr") is GATr
    assert lookup("model", "point-gatr") is PointGATr
    assert lookup("model", "transformer") is Transformer


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (GATr, {"algebra": "cga", "hidden_mv_channels": 8, "checkpoint": ["mlp"], "dropout": 0.1}),
        (PointGATr, {"algebra": "pga", "out_vectors": 1, "orientation": "average"}),
        (Transformer, {"hidden_channels": 64, "augment": True, "augment_translation": 2}),
    ],
)
def test_config_options(cls, options):
    fields, _ = signature_fields(cls)
    checked = check_mapping("model", options, fields)
    assert isinstance(cls(**checked), cls)
    with pytest.raises(ConfigError, match="num_heads"):
        check_mapping("model", {"num_heads": "eight"}, fields)
