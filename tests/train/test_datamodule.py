"""The data module's split errors: an empty validation split says why, a damaged splits.npz
names itself."""

import numpy as np
import pytest

from noether.core.errors import DataError
from noether.train.config import DataConfig
from noether.train.datamodule import TaskDataModule, load_splits, save_splits
from noether.train.toy import ToyRegression


def test_an_empty_validation_split_names_its_size_and_fraction():
    task = ToyRegression(n_samples=20)
    with pytest.raises(
        ValueError, match=r"the validation split of 20 samples with fraction 0.02 is empty"
    ):
        TaskDataModule(task, task.datasets(), DataConfig(split=(0.9, 0.02, 0.08)), seed=0)


def test_a_damaged_splits_file_names_itself(tmp_path):
    splits = {"train": np.arange(3), "val": np.arange(3, 5), "test": np.arange(5, 6)}
    save_splits(tmp_path / "splits.npz", splits, "fractions")
    assert load_splits(tmp_path / "splits.npz")["val"].tolist() == [3, 4]
    data = (tmp_path / "splits.npz").read_bytes()
    (tmp_path / "splits.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"splits.npz: not a readable splits file"):
        load_splits(tmp_path / "splits.npz")
    np.savez(tmp_path / "splits.npz", idx_train=[0.5], idx_val=[1], idx_test=[2])
    with pytest.raises(DataError, match=r"splits.npz: idx_train is float64"):
        load_splits(tmp_path / "splits.npz")
