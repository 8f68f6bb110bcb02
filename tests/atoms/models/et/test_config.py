"""The shipped ET configs build the models their comments promise, scale the outputs as the
recipe does and re-fit the offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from ase.build import molecule
from ase.io import write

from noether.atoms.models.et import ET
from noether.train.config import build, load_config

CONFIGS = Path(__file__).parents[4] / "configs"


@pytest.mark.parametrize(
    ("name", "n_parameters"), [("md17-et.yaml", 1_339_842), ("md17-et-small.yaml", 194_146)]
)
def test_md17_et_configs(name, n_parameters, tmp_path):
    # the configs' data file is generated (data/ is not in the repository): point at a stand-in
    data = tmp_path / "ethanol.xyz"
    write(data, [molecule("CH3CH2OH")] * 2000)  # the split takes 950 + 50 + 1000
    config = load_config(CONFIGS / name, [f"--task.path={data}"])
    model = build(config.model, "model")
    assert isinstance(model, ET)
    assert sum(p.numel() for p in model.parameters()) == n_parameters
    task = build(config.task, "task")
    assert task.refit_offsets == "end" and task.split == [950, 50, 1000]
    assert task.scale == "energy_std"  # the recipe's standardize
    if name == "md17-et.yaml":  # the recipe: 0.2 x ema_alpha_y 0.05 on the frame energy's MSE
        assert (task.energy_loss, task.energy_weight, task.forces_weight) == (
            "per_frame",
            0.01,
            0.8,
        )
    else:  # the small config keeps the per-atom weights every comparison in docs/et.md used
        assert (task.energy_loss, task.energy_weight, task.forces_weight) == ("per_atom", 0.2, 0.8)
    assert config.optim.ema_decay is None  # as in the recipe
