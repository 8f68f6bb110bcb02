from pathlib import Path

import pytest
import yaml

from noether.cli import main as cli_main
from noether.core.validation import config_yaml
from noether.train.checkpoints import load_checkpoint
from noether.train.config import Config, ConfigError, _component, load_config, parse_overrides

from .conftest import tiny_config


def test_tiny_config_resolves_every_default():
    config = load_config(tiny_config())
    assert isinstance(config, Config)
    assert config.model.options == {
        "in_dim": 3,  # from the task's model_defaults
        "out_dim": 1,
        "hidden": 16,
        "layers": 2,
        "activation": "silu",
        "dropout": 0.0,
    }
    assert config.task.options["path"] is None
    assert config.data.split == (0.75, 0.125, 0.125)
    again = load_config(config.to_dict())
    assert again.to_dict() == config.to_dict()


def test_file_overrides_and_yaml_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: toy-mlp}\ntask: {name: toy-regression}\noptim: {lr: 1e-3}\n")
    config = load_config(path)
    assert config.optim.lr == 1e-3  # YAML reads 1e-3 as a string; floats accept it
    config = load_config(
        path,
        [
            "--optim.lr=3e-4",
            "--trainer.max_epochs",
            "7",
            "--model.hidden=8",
            "--data.split=[0.5, 0.25, 0.25]",
        ],
    )
    assert config.optim.lr == 3e-4
    assert config.trainer.max_epochs == 7
    assert config.model.options["hidden"] == 8
    assert config.data.split == (0.5, 0.25, 0.25)
    assert config.source == str(path)


def test_parse_overrides_forms():
    assert parse_overrides(["--a.b=1", "--c.d", "true", "--e.f=null", "--g.h=x y"]) == {
        "a.b": 1,
        "c.d": True,
        "e.f": None,
        "g.h": "x y",
    }
    with pytest.raises(ConfigError, match=r"--section.key=value"):
        parse_overrides(["a.b=1"])
    with pytest.raises(ConfigError, match="has no value"):
        parse_overrides(["--a.b"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"optim.lrr": 1.0}, r"unknown key optim\.lrr; accepted keys: name, lr, weight_decay"),
        ({"trainers.max_epochs": 1}, r"unknown key trainers\.max_epochs .*accepted sections: seed"),
        (
            {"model.width": 3},
            r"unknown key model\.width; accepted keys: in_dim, out_dim, hidden, layers",
        ),
        ({"trainer.max_epochs": "ten"}, r"trainer\.max_epochs: got 'ten'; accepted: an integer"),
        ({"trainer.max_epochs": 2.5}, r"trainer\.max_epochs: got 2\.5; accepted: an integer"),
        ({"data.shuffle": "yes"}, r"data\.shuffle: got 'yes'; accepted: true or false"),
        (
            {"optim.name": "lion"},
            r"optim\.name: got 'lion'; accepted: one of 'adamw', 'adam', 'sgd'",
        ),
        ({"trainer.precision": 16}, r"trainer\.precision: got 16; accepted: one of 'auto', '32'"),
        (
            {"data.split": [0.5, 0.5]},
            r"data\.split: got \[0\.5, 0\.5\] \(2 values\); accepted: a list of 3",
        ),
        ({"data.split": [0.5, 0.2, 0.2]}, r"data\.split: .*add up to 1"),
        ({"data.batch_size": 0}, r"data\.batch_size: got 0; accepted: an integer >= 1"),
        ({"optim.ema_decay": 1.5}, r"optim\.ema_decay: got 1\.5; accepted: 0 < decay < 1"),
        ({"model.name": "nope"}, r"model\.name: unknown model 'nope'; available: .*toy-mlp"),
        ({"task.n_samples": 0}, r"task 'toy-regression': n_samples must be >= 1"),
        (
            {"task.path": "/no/such/folder"},
            r"task\.path: no such file or folder '/no/such/folder'; accepted: the path of an existing",
        ),
        ({"imports": ["no_such_module_xyz"]}, r"imports\[0\]: cannot import 'no_such_module_xyz'"),
    ],
)
def test_bad_configs_name_the_key_and_what_is_accepted(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(tiny_config(), override)


def test_missing_sections_and_files(tmp_path):
    with pytest.raises(ConfigError, match=r"missing key model.name"):
        load_config({"task": {"name": "toy-regression"}})
    with pytest.raises(ConfigError, match=r"config file .* does not exist"):
        load_config(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="a config is a mapping"):
        load_config(tmp_path / "list.yaml")


def test_cli_refuses_to_start_on_a_bad_config(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {name: toy-mlp}\ntask: {name: toy-regression, shards: missing_dir}\n")
    code = cli_main(["train", str(path), f"--run.dir={tmp_path / 'run'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "task.path: no such file or folder 'missing_dir'" in err
    assert not (tmp_path / "run").exists()
    code = cli_main(["train", str(path), "--task.shards=null", "--optim.momentun=0.5"])
    assert code == 2
    assert "unknown key optim.momentun; accepted keys:" in capsys.readouterr().err


def test_data_problems_stop_the_run_before_it_starts(tmp_path):
    from noether.train.run import train

    too_big = load_config(tiny_config(data={"batch_size": 512}, run={"dir": str(tmp_path / "a")}))
    with pytest.raises(
        ConfigError, match=r"data\.batch_size: got 512, more than the 96 training samples"
    ):
        train(too_big)
    wrong_size = tmp_path / "shards"
    from noether.train.toy import write_toy_shards

    write_toy_shards(wrong_size, 50)
    config = load_config(
        tiny_config(task={"shards": str(wrong_size)}, run={"dir": str(tmp_path / "b")})
    )
    with pytest.raises(ConfigError, match=r"task.path holds 50 samples but task.n_samples=128"):
        train(config)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_torch_dtype_options_read_and_write_as_names():
    import torch
    from torch import nn

    from noether.core import register_model

    @register_model("test-dtype-model")
    class WithDtype(nn.Module):
        def __init__(self, in_dim: int = 3, out_dim: int = 1, dtype: torch.dtype = torch.float32):
            super().__init__()

    raw = {**tiny_config(), "model": {"name": "test-dtype-model"}}
    config = load_config(raw)
    assert config.model.options["dtype"] is torch.float32
    assert "dtype: float32" in config.to_yaml()
    config = load_config(raw, {"model.dtype": "float64"})
    assert config.model.options["dtype"] is torch.float64
    assert load_config(config.to_dict()).model.options["dtype"] is torch.float64
    with pytest.raises(ConfigError, match=r"model.dtype: got 'int8'.*float32, float64"):
        load_config(raw, {"model.dtype": "int8"})


# --- one name for the data a task reads: task.path (old keys: rigid's task.data, toy's
# task.shards) still load from a YAML file, an override or an old checkpoint, saved as task.path

ROOT = Path(__file__).parents[2]
LEGACY = ROOT / "tests" / "data" / "legacy" / "train"


def _task_section(config) -> dict:
    """The task's keys as the run folder's config.yaml holds them."""
    section = yaml.safe_load(config_yaml(config))["task"]
    return section.get("options", section)


def test_an_old_toy_checkpoint_config_loads_and_saves_under_task_path():
    raw = load_checkpoint(LEGACY / "toy-mlp.ckpt")["noether"]["config"]
    assert "shards" in raw["task"] and "path" not in raw["task"]
    task = _task_section(load_config(raw))
    assert "path" in task and "shards" not in task


def test_an_old_rigid_checkpoint_task_section_reads_under_task_path(tmp_path):
    # The rigid task reads its data to build (model defaults): check the section alone.
    raw = load_checkpoint(LEGACY / "rigid-gatr.ckpt")["noether"]["config"]["task"]
    assert "data" in raw and "path" not in raw
    component = _component("task", {**raw, "data": str(tmp_path)}, {})
    assert component.options["path"] == str(tmp_path) and "data" not in component.options


def test_an_old_key_in_a_yaml_file_and_on_the_command_line(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(
        f"model: {{name: toy-mlp}}\ntask: {{name: toy-regression, shards: {tmp_path}}}\n"
    )
    assert load_config(path).task.options["path"] == str(tmp_path)
    config = load_config(ROOT / "configs" / "toy-mlp.yaml", [f"--task.shards={tmp_path}"])
    with pytest.raises(ConfigError, match=r"task.shards and task.path are the same key"):
        load_config({**yaml.safe_load(path.read_text()), "task": {
            "name": "toy-regression", "shards": str(tmp_path), "path": str(tmp_path)}})  # fmt: skip
    assert _task_section(config)["path"] == str(tmp_path)


@pytest.mark.parametrize("name", ["rigid-gatr.yaml", "rigid-transformer.yaml", "toy-mlp.yaml"])
def test_the_shipped_configs_use_task_path(name):
    task = yaml.safe_load((ROOT / "configs" / name).read_text())["task"]
    assert "path" in task and not {"data", "shards"} & set(task)


def test_unknown_keys_are_reported_before_the_data_path(tmp_path):
    missing = str(tmp_path / "missing.xyz")
    task = {"name": "atoms", "path": missing}
    with pytest.raises(ConfigError, match=r"unknown key task\.energy_unitt; accepted keys: path"):
        load_config({"model": {"name": "morse"}, "task": {**task, "energy_unitt": "meV"}})
    with pytest.raises(ConfigError, match=r"unknown key model\.epsilonn; accepted keys: "):
        load_config({"model": {"name": "morse", "epsilonn": 1.0}, "task": task})
    with pytest.raises(ConfigError, match=r"task\.path: no such file or folder"):
        load_config({"model": {"name": "morse"}, "task": task})
