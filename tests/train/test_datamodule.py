"""``data.split`` in the saved config is what was used; fractions that would do nothing are refused."""

import torch
import yaml

from noether.cli import main as cli_main
from noether.core.registry import register_task
from noether.core.task import Splits
from noether.train.config import load_config
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
