"""The shipped ET configs build the models their comments promise and re-fit the offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from noether.atoms.models.et import ET
from noether.train.config import build, load_config

CONFIGS = Path(__file__).parents[3] / "configs"


@pytest.mark.parametrize(
    ("name", "n_parameters"), [("md17-et.yaml", 1_339_842), ("md17-et-small.yaml", 194_146)]
)
def test_md17_et_configs(name, n_parameters):
    config = load_config(CONFIGS / name)
    model = build(config.model, "model")
    assert isinstance(model, ET)
    assert sum(p.numel() for p in model.parameters()) == n_parameters
    task = build(config.task, "task")
    assert task.refit_offsets and task.split == [950, 50, 1000]
    assert (task.energy_weight, task.forces_weight) == (0.2, 0.8)
    assert config.optim.ema_decay is None  # the re-fit refuses an EMA of the weights
