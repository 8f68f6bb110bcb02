import importlib.util
import io
import re
from typing import ClassVar

import pytest

from noether.core.registry import register_task
from noether.train.config import ConfigError, load_config
from noether.train.console import want_progress_bar
from noether.train.run import resolve_precision, train
from noether.train.toy import ToyRegression

from .conftest import tiny_config


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_bar_only_in_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", _Stream(True))
    assert want_progress_bar("auto") is True
    monkeypatch.setattr("sys.stderr", _Stream(False))
    assert want_progress_bar("auto") is False
    assert want_progress_bar(True) is True and want_progress_bar(False) is False


def test_precision_choices_on_this_machine():
    assert resolve_precision("32", "cpu") == "32-true"
    assert resolve_precision("64", "cpu") == "64-true"
    assert resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"
    assert resolve_precision("auto", "cpu") == "32-true"
    with pytest.raises(ConfigError, match="'16-mixed', which needs a CUDA GPU"):
        resolve_precision("16-mixed", "cpu")


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is not None
    or importlib.util.find_spec("tensorboardX") is not None,
    reason="tensorboard is installed",
)
def test_tensorboard_without_the_package_stops_before_training(tmp_path):
    config = load_config(
        tiny_config(trainer={"tensorboard": True}, run={"dir": str(tmp_path / "r")})
    )
    with pytest.raises(
        ConfigError, match=r"trainer.tensorboard: true needs the tensorboard package"
    ):
        train(config)
    assert not (tmp_path / "r").exists()


def test_trainer_follows_the_config(tmp_path):
    from lightning.pytorch.callbacks import EMAWeightAveraging

    from noether.train.checkpoints import AtomicCheckpointIO, RunCheckpoints
    from noether.train.distributed import Launch
    from noether.train.run import make_trainer

    config = load_config(
        tiny_config(
            optim={"clip_grad_norm": 0.5, "ema_decay": 0.99},
            trainer={"checkpoint_every_n_steps": 7},
        )
    )
    trainer = make_trainer(config, tmp_path, Launch("single", 1, 0, 1, 1, None), [], None)
    assert trainer.gradient_clip_val == 0.5 and trainer.gradient_clip_algorithm == "norm"
    assert trainer.max_epochs == 3 and trainer.num_sanity_val_steps == 0
    ema = [c for c in trainer.callbacks if isinstance(c, EMAWeightAveraging)]
    assert len(ema) == 1
    checkpoints = [c for c in trainer.callbacks if isinstance(c, RunCheckpoints)]
    assert len(checkpoints) == 1 and checkpoints[0].every_n_steps == 7
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert trainer.progress_bar_callback is None  # progress_bar: false in the tiny config


@register_task("test-toy-in-ev")
class _ToyInEV(ToyRegression):
    units: ClassVar[dict[str, str]] = {"y": "eV"}


def test_epoch_lines_carry_the_units_of_the_task(tmp_path, capsys):
    config = tiny_config(
        task={"name": "test-toy-in-ev"},
        trainer={"max_epochs": 1},
        run={"dir": str(tmp_path / "r")},
    )
    train(load_config(config))
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("epoch 1/1"))
    assert re.search(
        r"  val/loss [0-9.e-]+  val/y_mae [0-9.e-]+ eV  val/y_rmse [0-9.e-]+ eV  ", line
    )
