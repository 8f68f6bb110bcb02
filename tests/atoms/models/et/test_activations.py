"""ET's activations by name (et/activations.py)."""

from __future__ import annotations

import pytest
import torch

from noether.atoms.models.et.activations import ACTIVATIONS, activation, shifted_softplus
from noether.atoms.models.et.config import ACTIVATION_NAMES


def test_the_config_accepts_exactly_the_activations_there_are():
    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES


def test_shifted_softplus_is_zero_at_zero_and_unknown_names_are_named():
    assert float(shifted_softplus(torch.zeros(()))) == pytest.approx(0.0, abs=1e-7)
    assert activation("silu") is torch.nn.functional.silu
    with pytest.raises(ValueError, match="unknown activation 'relu'; accepted: silu"):
        activation("relu")
