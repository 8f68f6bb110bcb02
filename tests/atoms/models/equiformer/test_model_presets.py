"""The shipped Equiformer configs build the models their comments promise."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from noether.atoms.models.equiformer import Equiformer, EquiformerProperties, preset
from noether.core import registry
from noether.train.config import read_yaml

CONFIGS = Path(__file__).parents[4] / "configs"


def built(name: str) -> torch.nn.Module:
    section = dict(read_yaml(CONFIGS / name)["model"])
    torch.manual_seed(0)
    return registry.lookup("model", section.pop("name"))(**section)


@pytest.mark.parametrize(
    ("config", "preset_name"),
    [("md17-equiformer.yaml", "md17"), ("md17-equiformer-small.yaml", "small")],
)
def test_md17_configs_are_the_presets(config, preset_name):
    model = built(config)
    assert isinstance(model, Equiformer)
    torch.manual_seed(0)
    reference = Equiformer.from_preset(preset_name)
    assert model.hparams == reference.hparams
    n_parameters = sum(p.numel() for p in model.parameters())
    if preset_name == "md17":  # the paper's L_max = 2 model less its dead edge-degree weights
        assert n_parameters == 3_422_721
    assert n_parameters == sum(p.numel() for p in reference.parameters())


def test_property_config_is_the_small_preset_with_a_gaussian_basis():
    model = built("properties-equiformer-small.yaml")
    assert isinstance(model, EquiformerProperties) and model.reduce == "sum"
    reference = EquiformerProperties(
        n_targets=1, reduce="sum", **preset("small", radial_basis="gaussian", num_elements=10)
    )
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
