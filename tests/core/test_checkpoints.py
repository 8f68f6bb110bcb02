"""Run checkpoints read without the trainer: a trained model from a file alone, with Lightning
never imported, and a model section that cannot be built named in one error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from noether.core.checkpoints import (
    CorruptCheckpointError,
    build_model,
    find_checkpoint,
    load_checkpoint,
    load_trained_model,
)
from noether.core.validation import ConfigError

LEGACY = Path(__file__).parents[1] / "data" / "legacy" / "train"


def test_a_trained_model_loads_without_lightning(subprocess_env):
    """The ASE calculator and every family load runs through this module: no trainer."""
    code = (
        "import sys\n"
        "from noether.core.checkpoints import load_trained_model\n"
        f"model = load_trained_model({str(LEGACY / 'et-float64.ckpt')!r})\n"
        "assert type(model).__name__ == 'ET', type(model)\n"
        "assert next(model.parameters()).dtype.is_floating_point\n"
        "assert 'lightning' not in sys.modules, 'loading a model must not import Lightning'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_float64_runs_come_back_in_float64():
    import torch

    model = load_trained_model(LEGACY / "et-float64.ckpt")
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert not model.training


def test_find_checkpoint_prefers_and_falls_back(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert find_checkpoint(tmp_path).name == "last.ckpt"  # no best.ckpt: the other one
    with pytest.raises(FileNotFoundError, match="neither a run folder nor a checkpoint"):
        find_checkpoint(tmp_path / "missing")


def test_an_empty_file_is_named(tmp_path):
    path = tmp_path / "best.ckpt"
    path.write_bytes(b"")
    with pytest.raises(CorruptCheckpointError, match=rf"{path}: cannot read .* is empty"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"blocks": 2}, "missing key model.name"),
        ({"name": "no-such-model"}, "model.name: unknown model 'no-such-model'"),
        ({"name": "toy-mlp", "widht": 3}, "unknown key model.widht"),
    ],
)
def test_a_model_section_that_cannot_be_built_is_one_config_error(section, message):
    with pytest.raises(ConfigError, match=message):
        build_model(section)
