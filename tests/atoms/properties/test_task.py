"""The property task: Equiformer trained on xTB labels; data errors name the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noether.atoms.models.equiformer import EquiformerProperties, preset
from noether.atoms.properties import PropertyDataset
from noether.atoms.properties.task import PropertyTask
from noether.atoms.properties.xtb import xtb_properties


def test_property_task_with_equiformer(tmp_path):
    data = xtb_properties(["O", "CO", "CC", "N", "C=O", "CF"], conformers=2, seed=0)
    path = data.save(tmp_path / "props.npz")
    task = PropertyTask(str(path), targets=["gap", "mu"], split=[0.5, 0.25, 0.25])
    splits = task.datasets()
    assert len(splits.train) == 6 and len(splits.val) + len(splits.test) == 6
    # by molecule (the default): no molecule has conformers on both sides
    assert not set(splits.train.names) & set(splits.test.names)
    by_sample = PropertyTask(str(path), split=[0.5, 0.25, 0.25], split_by="sample").datasets()
    assert len(by_sample.train) == 6
    defaults = task.model_defaults()
    assert defaults["n_targets"] == 2
    torch.manual_seed(0)
    model = EquiformerProperties(**defaults, **preset("tiny")).double()
    batch = task.collate([splits.train[k] for k in range(4)])
    pred = task.forward(model, batch)
    assert pred.shape == (4, 2)
    loss = task.loss(pred, batch)
    loss.backward()
    assert torch.isfinite(loss) and model.head.linear_2.weights[0].grad is not None
    compared = task.compare(pred, batch)
    assert set(compared) == {"gap", "mu"} and task.units == {"gap": "eV", "mu": "D"}
    with pytest.raises(ValueError, match="no target"):
        PropertyTask(str(path), targets=["U0"]).datasets()


def test_property_task_data_errors_name_the_file(tmp_path):
    """Raised while the config is checked, they must be DataErrors (the one-line config error);
    split sizes larger than the file were make_splits' bare ValueError, without the file."""
    from noether.core.errors import DataError

    data = PropertyDataset(
        [8, 1, 1, 6, 1, 1, 1, 1],
        np.arange(24.0).reshape(8, 3),
        [0, 3, 8],
        {"gap": [1.0, 2.0]},
        {"gap": "eV"},
        ["O", "C"],
    )
    path = data.save(tmp_path / "p.npz")
    with pytest.raises(DataError, match=r"p.npz has no target\(s\) \['U0'\]"):
        PropertyTask(str(path), targets=["U0"]).model_defaults()
    with pytest.raises(DataError, match=r"p.npz: task.split \[5, 1, 1\]: .*need 7 frames"):
        PropertyTask(str(path), targets=["gap"], split=[5, 1, 1]).model_defaults()
