"""``data.split`` in the saved config is what was used; fractions that would do nothing are
refused; an empty validation split says why; a damaged splits.npz names itself."""

import numpy as np
import pytest
import torch
import yaml

from noether.cli import main as cli_main
from noether.core.errors import DataError
from noether.core.registry import register_task
from noether.core.task import Splits
from noether.train.config import DataConfig, load_config
from noether.train.datamodule import TaskDataModule, load_splits, save_splits
from noether.train.run import train
from noether.train.toy import ToyRegression

from .conftest import tiny_config
from .test_rundir import folder_hash


@register_task("test-toy-own-splits")
class _OwnSplits(ToyRegression):
    """The toy data split by the task itself (as the atomistic task does with its options)."""

    def datasets(self) -> Splits:
        data = super().datasets()
        n = len(data)
        return Splits(
            train=torch.utils.data.Subset(data, range(n // 2)),
            val=torch.utils.data.Subset(data, range(n // 2, 3 * n // 4)),
            test=torch.utils.data.Subset(data, range(3 * n // 4, n)),
        )


def _config(tmp_path, **sections):
    config = tiny_config(trainer={"max_epochs": 1}, **sections)
    config["data"].pop("split")
    return config


def test_the_saved_config_shows_the_split_that_was_used(tmp_path):
    fractions = train(load_config(_config(tmp_path, run={"dir": str(tmp_path / "a")})))
    saved = yaml.safe_load((fractions / "config.yaml").read_text())
    assert saved["data"]["split"] == [0.8, 0.1, 0.1]  # the stack split the one dataset
    own = _config(tmp_path, task={"name": "test-toy-own-splits"}, run={"dir": str(tmp_path / "b")})
    own = train(load_config(own))
    assert yaml.safe_load((own / "config.yaml").read_text())["data"]["split"] is None


def test_a_split_that_would_have_no_effect_is_refused(tmp_path, capsys):
    config = tmp_path / "own.yaml"
    own = _config(tmp_path, task={"name": "test-toy-own-splits"})
    own["data"]["split"] = [0.5, 0.25, 0.25]
    config.write_text(yaml.safe_dump(own))
    before = folder_hash(tmp_path)
    assert cli_main(["train", str(config), f"--run.dir={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "noether train: error: data.split: got [0.5, 0.25, 0.25], which has no effect: task "
        "'test-toy-own-splits' splits its data itself (see its own split options in task:); "
        "accepted: no data.split (null)"
    )
    assert folder_hash(tmp_path) == before and not (tmp_path / "r").exists()


def test_resume_with_the_original_file_that_leaves_the_split_out(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_config(tmp_path)))
    run_dir = tmp_path / "r"
    assert cli_main(["train", str(config), f"--run.dir={run_dir}"]) == 0
    # the SLURM recipe's form: the same file again, with --resume; its null split is the saved one
    argv = ["train", str(config), f"--run.dir={run_dir}", "--resume", str(run_dir)]
    assert cli_main([*argv, "--trainer.max_epochs=2"]) == 0
    capsys.readouterr()
    changed = [*argv, "--trainer.max_epochs=3", "--data.split=[0.5,0.25,0.25]"]
    assert cli_main(changed) == 2  # a different split is a different run
    assert "data.split: [0.8, 0.1, 0.1] -> [0.5, 0.25, 0.25]" in capsys.readouterr().err


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
