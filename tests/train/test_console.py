import importlib.util
import io

import pytest

from noether.train.config import ConfigError, load_config
from noether.train.console import want_progress_bar
from noether.train.run import resolve_precision, train

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
