"""Morse and LennardJones take config dataclasses: config-built and keyword-built models are
identical, and the config is what save_potential stores (old hparams files still load: see
tests/test_legacy_checkpoints.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from noether.atoms.checkpoint import load_potential, save_potential
from noether.atoms.potential import PotentialConfig
from noether.atoms.reference import LennardJones, LennardJonesConfig, Morse, MorseConfig
from noether.core.config import config_dict
from noether.core.validation import read_config

CONFIGS = Path(__file__).parents[2] / "configs"

CASES = [
    (Morse, MorseConfig, dict(epsilon=0.3, r0=1.5, rho0=3.0, learnable=True, dtype="float64")),
    (LennardJones, LennardJonesConfig, dict(sigma=2.3, epsilon=0.2, rc=6.0, atomref={"H": -1.0})),
]


@pytest.mark.parametrize(("cls", "config_cls", "options"), CASES)
def test_config_and_keywords_build_the_same_model(cls, config_cls, options, tmp_path):
    by_keywords, by_config = cls(**options), cls(config_cls(**options))
    assert by_keywords.config == by_config.config == config_cls(**options)
    assert isinstance(by_config.config, PotentialConfig)
    state = by_keywords.state_dict()
    assert state.keys() == by_config.state_dict().keys()
    for key, value in by_config.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert repr(by_keywords).count("=") >= len(options) - 1  # the non-default options
    # the checkpoint holds the config
    path = save_potential(tmp_path / "m.pt", by_config)
    payload = torch.load(path, weights_only=True)
    assert payload["config"] == config_dict(by_config.config) == by_config.hparams
    back = load_potential(path)
    assert type(back) is cls and back.config == by_config.config
    # and the YAML model section reads back as the config
    section = {"model": {"name": "x", **config_dict(by_config.config)}}
    assert read_config(config_cls, section, section="model") == by_config.config


def test_dtype_is_kept_by_name():
    assert MorseConfig(dtype=torch.float64) == MorseConfig(dtype="float64")
    assert MorseConfig(dtype="torch.float32").dtype == "float32"
    assert Morse(dtype=torch.float64).dtype == torch.float64


def test_unknown_and_positional_options_are_refused():
    with pytest.raises(TypeError, match=r"unknown option\(s\) sigma"):
        Morse(sigma=1.0)
    with pytest.raises(TypeError, match="expected a MorseConfig"):
        Morse(0.3)


def test_the_shipped_morse_config_is_a_morse_config():
    section = read_config(MorseConfig, CONFIGS / "atoms-morse.yaml", section="model")
    assert section == MorseConfig(epsilon=0.3, r0=1.5, rho0=3.0, learnable=True)
