"""Damaged checkpoints and full disks give one clear error naming the file.

A truncated, empty or foreign checkpoint raises :class:`CorruptCheckpointError` (a
``ValueError``) that names the file, says what is wrong and which other checkpoint to use, on
every load path (``load_checkpoint``, the trained model, Lightning's resume). A save that runs
out of disk space raises an ``OSError`` (``ENOSPC``) naming the file and leaves the previous
checkpoint as it was.
"""

from __future__ import annotations

import errno
import io

import pytest
import torch

from noether.core import io as core_io
from noether.train.checkpoints import (
    BEST,
    LAST,
    AtomicCheckpointIO,
    CorruptCheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from noether.train.config import load_config
from noether.train.run import train
from noether.train.trained import load_trained_model

from .conftest import tiny_config


def _checkpoint(step: int = 1) -> dict:
    torch.manual_seed(step)
    return {"noether": {"config": {}}, "global_step": step, "w": torch.randn(5000)}


@pytest.fixture
def folder(tmp_path):
    """A checkpoints folder with a whole best.ckpt and last.ckpt."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save(_checkpoint(1), folder / BEST)
    torch.save(_checkpoint(2), folder / LAST)
    return folder


def _truncate(path, size):
    data = path.read_bytes()
    path.write_bytes(data[:size])


@pytest.mark.parametrize(
    ("size", "what"),
    [
        (0.5, r"is truncated \(\d+ bytes, the end of its zip archive is missing\)"),
        (200, r"is truncated \(200 bytes"),
        (0, r"is empty \(truncated"),
    ],
)
@pytest.mark.parametrize("name", [LAST, BEST])
def test_a_truncated_checkpoint_names_the_file_and_the_other_one(folder, name, size, what):
    path = folder / name
    _truncate(path, int(size * path.stat().st_size) if isinstance(size, float) else size)
    other = folder / (BEST if name == LAST else LAST)
    with pytest.raises(CorruptCheckpointError, match=what) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert message.startswith(f"{path}: cannot read the checkpoint")
    assert str(other) in message  # what to do: the run's other checkpoint
    if name == LAST:
        assert "cannot resume" in message and "train it again" in message
    else:
        assert "--checkpoint last" in message
    assert "\n" not in message


def test_a_foreign_file_is_not_a_checkpoint(folder):
    path = folder / LAST
    path.write_bytes(b"not a checkpoint at all\n" * 10)
    (folder / BEST).unlink()
    with pytest.raises(CorruptCheckpointError, match="is damaged or not a checkpoint") as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value) and "train it again" in str(caught.value)
    torch.save({"state_dict": {}}, path)  # readable, but not noether's
    with pytest.raises(CorruptCheckpointError, match="not a noether checkpoint"):
        load_checkpoint(path)


def test_the_trained_model_and_lightning_loads_name_the_truncated_file(folder):
    whole = AtomicCheckpointIO().load_checkpoint(folder / LAST, weights_only=False)
    assert whole["global_step"] == 2 and whole["w"].device.type == "cpu"
    _truncate(folder / BEST, 1000)
    with pytest.raises(CorruptCheckpointError, match=f"{folder / BEST}: .* is truncated"):
        load_trained_model(folder.parent)
    _truncate(folder / LAST, 1000)
    with pytest.raises(CorruptCheckpointError, match=f"{folder / LAST}: .* is truncated"):
        AtomicCheckpointIO().load_checkpoint(folder / LAST, weights_only=False)
    with pytest.raises(FileNotFoundError):  # a missing file stays Lightning's error
        AtomicCheckpointIO().load_checkpoint(folder / "missing.ckpt")


class _FullDisk(io.FileIO):
    """A file on a disk that fills up after ``room`` bytes."""

    room = 3000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.written = 0

    def write(self, data):
        self.written += len(data)
        if self.written > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.fixture
def full_disk(monkeypatch):
    """Files that ``atomic_write`` opens run out of space mid-write."""
    monkeypatch.setattr(core_io, "open", lambda path, mode: _FullDisk(path, mode), raising=False)


@pytest.mark.parametrize(
    "save",
    [
        save_checkpoint,
        lambda checkpoint, path: AtomicCheckpointIO().save_checkpoint(checkpoint, path),
    ],
    ids=["save_checkpoint", "lightning"],
)
def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint(folder, full_disk, save):
    path = folder / LAST
    before = path.read_bytes()
    with pytest.raises(OSError, match="no space left on device") as caught:
        save(_checkpoint(3), path)
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value).startswith(f"{path}: no space left on device")
    assert "unexpected pos" not in str(caught.value)
    assert "previous last.ckpt is unchanged" in str(caught.value)
    assert path.read_bytes() == before  # atomic: the previous checkpoint, whole
    assert load_checkpoint(path)["global_step"] == 2
    assert sorted(p.name for p in folder.iterdir()) == [BEST, LAST]  # no temporary file left


def test_a_full_disk_without_a_previous_checkpoint(tmp_path, full_disk):
    path = tmp_path / LAST
    with pytest.raises(OSError, match="nothing was saved"):
        save_checkpoint(_checkpoint(), path)
    assert not list(tmp_path.iterdir())


def test_resume_from_a_truncated_last_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    train(load_config(tiny_config(trainer={"max_epochs": 1}, run={"dir": str(run_dir)})))
    last = run_dir / "checkpoints" / LAST
    _truncate(last, last.stat().st_size // 2)
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(CorruptCheckpointError, match=f"{last}: .* is truncated") as caught:
        train(None, ["--trainer.max_epochs=2"], resume=run_dir)
    assert str(run_dir / "checkpoints" / BEST) in str(caught.value)
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == files  # untouched
