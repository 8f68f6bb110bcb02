"""`ETConfig` (et/config.py): a typed, checked value whose fields are the flat YAML keys; the
shipped ET configs (and the PolyGET study's) build the models their comments promise."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from ase.build import molecule
from ase.io import write

from noether.atoms.models.et import ET, ETConfig
from noether.core.config import config_dict
from noether.train.config import build, load_config
from noether.train.validation import check_mapping, signature_fields

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


def test_config_is_a_frozen_checked_value():
    config = ETConfig()
    assert (config.hidden, config.layers, config.heads, config.cutoff) == (128, 6, 8, 5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden = 64
    assert ETConfig(dtype="float64").dtype == torch.float64
    assert ETConfig(dtype="torch.float64") == ETConfig(dtype=torch.float64)
    for options, match in [
        (dict(hidden=10, heads=4), "divisible"),
        (dict(hidden=7, heads=7), "even"),
        (dict(layers=0), "layers"),
        (dict(num_rbf=0), "num_rbf"),
        (dict(cutoff=0.0), "cutoff"),
        (dict(activation="relu6"), "activation 'relu6'"),
        (dict(attn_activation="softmax"), "attn_activation"),
        (dict(distance_influence="queries"), "distance_influence"),
        (dict(head="dipole"), "head"),
        (dict(dtype=torch.float16), "dtype"),
        (dict(zbl_cutoff=6.0), "zbl_cutoff"),
    ]:
        with pytest.raises(ValueError, match=match):
            ETConfig(**options)
    assert ETConfig().fusable and not ETConfig(activation="tanh").fusable
    assert not ETConfig(distance_influence="keys").fusable


def test_the_training_validator_reads_the_config_fields():
    fields, open_ended = signature_fields(ET)
    assert [f.name for f in fields] == [f.name for f in dataclasses.fields(ETConfig)]
    assert not open_ended
    checked = check_mapping("model", {"hidden": 64, "dtype": "float64", "head": "scalar"}, fields)
    assert checked["dtype"] == torch.float64 and checked["cutoff"] == 5.0
    assert ET(**checked).config == ETConfig(hidden=64, dtype=torch.float64, head="scalar")
    assert config_dict(ETConfig())["dtype"] == torch.float32


def test_polyget_study_model_section_builds():
    # the keys PolyGETPlan.config writes (studies/polyget.py, not imported: studies sit above atoms)
    section = dict(hidden=64, layers=3, heads=4, num_rbf=16, cutoff=5.0)
    fields, _ = signature_fields(ET)
    model = ET(**check_mapping("model", section, fields))
    assert (model.config.hidden, model.config.layers, model.config.num_rbf) == (64, 3, 16)
