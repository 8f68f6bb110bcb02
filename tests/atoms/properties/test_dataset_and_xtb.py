"""Property datasets: npz round trip, subsets, GFN2-xTB labels from SMILES, the training task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noether.atoms.models.equiformer import EquiformerProperties, preset
from noether.atoms.properties import PropertyDataset
from noether.atoms.properties.task import PropertyTask
from noether.atoms.properties.xtb import SMALL_MOLECULES, single_point, xtb_properties


def test_round_trip_and_subset(tmp_path):
    data = PropertyDataset(
        [8, 1, 1, 6, 1, 1, 1, 1],
        np.arange(24.0).reshape(8, 3),
        [0, 3, 8],
        {"gap": [1.0, 2.0], "mu": [0.5, 0.0]},
        {"gap": "eV", "mu": "D"},
        ["O", "C"],
    )
    path = data.save(tmp_path / "p.npz")
    back = PropertyDataset.load(path)
    assert np.array_equal(back.positions, data.positions) and back.names == ["O", "C"]
    assert back.units == {"gap": "eV", "mu": "D"}
    sub = back.subset([1])
    assert sub.numbers.tolist() == [6, 1, 1, 1, 1] and sub.targets["gap"].tolist() == [2.0]
    assert sub[0]["targets"] == {"gap": 2.0, "mu": 0.0}


def test_bad_dataset_inputs(tmp_path):
    with pytest.raises(ValueError, match="offsets"):
        PropertyDataset([1, 1], np.zeros((2, 3)), [0, 3], {})
    with pytest.raises(ValueError, match="shape"):
        PropertyDataset([1, 1], np.zeros((2, 3)), [0, 2], {"gap": [1.0, 2.0]})
    with pytest.raises(ValueError, match="finite"):
        PropertyDataset([1], np.full((1, 3), np.nan), [0, 1], {})
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a noether property dataset"):
        PropertyDataset.load(tmp_path / "x.npz")


def test_xtb_labels_are_physical():
    """Water: a bent molecule with a dipole of about 2 D and a gap of order 10 eV; methane has no
    dipole; conformers of one molecule share the same atoms."""
    data = xtb_properties(["O", "C"], conformers=2, seed=3)
    assert len(data) == 4 and data.names == ["O", "O", "C", "C"]
    mu, gap = data.targets["mu"], data.targets["gap"]
    assert 1.0 < mu[0] < 3.5 and mu[2] < 0.2
    assert np.all((gap > 5) & (gap < 25))
    assert np.allclose(data.targets["gap"], data.targets["lumo"] - data.targets["homo"])
    # the label is a function of the geometry: recomputing one gives the same numbers
    a, b = data.offsets[1], data.offsets[2]
    again = single_point(data.numbers[a:b], data.positions[a:b])
    assert again["energy"] == pytest.approx(data.targets["energy"][1], abs=1e-8)


def test_builtin_molecules_are_qm9_like():
    from rdkit import Chem

    assert len(set(SMALL_MOLECULES)) == len(SMALL_MOLECULES) >= 100
    for s in SMALL_MOLECULES:
        mol = Chem.MolFromSmiles(s)
        assert mol is not None and mol.GetNumHeavyAtoms() <= 9
        assert {a.GetSymbol() for a in mol.GetAtoms()} <= {"C", "N", "O", "F"}


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
