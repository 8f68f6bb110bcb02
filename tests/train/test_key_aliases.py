"""One name for the data a task reads: ``task.path``. The old keys (``task.data`` of rigid,
``task.shards`` of toy-regression) still load, from a YAML file or an old checkpoint, and are
saved under the new name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from noether.core.validation import config_yaml
from noether.train.checkpoints import load_checkpoint
from noether.train.config import ConfigError, _component, load_config

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
