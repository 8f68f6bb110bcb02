"""Checkpoints of a run: ``last.ckpt`` to resume, ``best.ckpt`` to evaluate; always whole.

Every checkpoint file is written to a temporary name and moved into place, so a run killed at
any moment (mid-epoch, mid-write) leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

import errno
import math
import signal
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from noether.core.io import atomic_write
from noether.train.signals import RunInterrupted, StopOnSignal

LAST, BEST = "last.ckpt", "best.ckpt"

__all__ = [
    "BEST",
    "LAST",
    "AtomicCheckpointIO",
    "CorruptCheckpointError",
    "RunCheckpoints",
    "find_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]


class CorruptCheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, empty, or not a checkpoint at all."""


def _os_error(error: BaseException) -> OSError | None:
    """The first ``OSError`` in an exception's chain (``torch.save`` reports a failed write as
    ``RuntimeError: unexpected pos ...`` whose context is the writer's ``OSError``)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _write_error(code: int | None, message: str) -> OSError:
    """An ``OSError`` with ``errno`` ``code`` whose text is ``message`` alone (``OSError(code,
    message, path)`` would print ``[Errno ...]`` before it and the file twice)."""
    error = OSError(message)
    error.errno = code
    return error


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` through a temporary file moved onto ``path``: a failed write (a full
    disk, say) leaves the previous file as it was and raises an ``OSError`` naming ``path``."""
    path = Path(path)
    try:
        return atomic_write(path, lambda file: torch.save(checkpoint, file))
    except (OSError, RuntimeError) as error:
        cause = _os_error(error)
        keep = f"the previous {path.name} is unchanged" if path.exists() else "nothing was saved"
        if cause is not None and cause.errno == errno.ENOSPC:
            raise _write_error(
                errno.ENOSPC,
                f"{path}: no space left on device while saving the checkpoint ({keep}); free "
                f"space on that disk (or move the run folder) and resume with --resume",
            ) from None
        if cause is not None:
            raise _write_error(
                cause.errno,
                f"{path}: cannot save the checkpoint: {cause.strerror or cause} ({keep})",
            ) from None
        if isinstance(error, RuntimeError) and "unexpected pos" in str(error):
            raise _write_error(
                errno.EIO,
                f"{path}: the checkpoint was written incompletely (a full disk?) ({keep})",
            ) from None
        raise


def _on_cpu(storage, location):
    """Lightning's default ``map_location``: every tensor as loaded, on the CPU."""
    return storage


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint IO, written through a temporary file; clear errors
    naming the file for a full disk (saving) and a truncated or corrupt file (loading)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any = None
    ) -> None:
        save_checkpoint(checkpoint, path)

    def load_checkpoint(
        self, path, map_location: Any = _on_cpu, weights_only: bool | None = None
    ) -> dict[str, Any]:
        if not Path(path).is_file():  # missing, or remote (fsspec): Lightning's own
            return super().load_checkpoint(path, map_location, weights_only)
        return read_checkpoint(path, map_location=map_location, weights_only=weights_only)


class RunCheckpoints(Checkpoint):
    """Save ``last.ckpt`` at every epoch end (and every ``every_n_steps`` optimiser steps if
    > 0) and ``best.ckpt`` whenever ``monitor`` reaches a new minimum after validation.

    As a ``Checkpoint`` it runs after every other callback of a hook, so the state it saves
    includes their updates of the same step (the EMA of the weights, say).

    With ``stop``, a signal recorded by it ends the run after the step in progress (after the
    epoch's validation at the last step of an epoch) with ``last.ckpt`` written:
    :mod:`noether.train.signals`."""

    def __init__(
        self,
        directory: str | Path,
        every_n_steps: int = 0,
        monitor: str = "val/loss",
        stop: StopOnSignal | None = None,
    ):
        self.directory = Path(directory)
        self.every_n_steps = every_n_steps
        self.monitor = monitor
        self.best = math.inf
        self.stop = stop
        self._stopped_at: int | None = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        if trainer.is_global_zero and self.directory.is_dir():
            for stale in self.directory.glob(".*.tmp"):  # left by a run killed mid-write
                stale.unlink(missing_ok=True)

    def on_train_start(self, trainer, pl_module) -> None:
        if self.stop is not None:
            self.stop.install()
            self.stop.graceful = True

    def on_train_end(self, trainer, pl_module) -> None:
        if self.stop is not None:
            self.stop.graceful = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        last_in_epoch = batch_idx + 1 >= trainer.num_training_batches
        stopping = not last_in_epoch and self._stopping(trainer)
        if stopping or (
            self.every_n_steps and step % self.every_n_steps == 0 and not last_in_epoch
        ):
            trainer.save_checkpoint(self.directory / LAST)
        if stopping:  # once Lightning has logged this step's metrics row
            self._stopped_at = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._stopped_at is not None:
            self._interrupt(self._stopped_at)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None:
            return
        score = float(score)
        if score < self.best:
            self.best = score
            trainer.save_checkpoint(self.directory / BEST)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(self.directory / LAST)
        if self._stopping(trainer):
            self._interrupt(trainer.global_step)

    def _stopping(self, trainer) -> bool:
        return self.stop is not None and self.stop.requested(trainer)

    def _interrupt(self, step: int) -> None:
        assert self.stop is not None
        self.stop.graceful = False
        raise RunInterrupted(self.stop.signum or signal.SIGTERM, saved_step=step)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict.get("best", math.inf))


def find_checkpoint(path: str | Path, prefer: str = BEST) -> Path:
    """The checkpoint file of a run folder (``prefer``, else the other) or the file itself."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"{str(path)!r} is neither a run folder nor a checkpoint file")
    folder = path / "checkpoints"
    for name in (prefer, LAST if prefer == BEST else BEST):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{str(path)!r} holds no checkpoint (looked for {folder}/{{best,last}}.ckpt)"
    )


def _damage(path: Path) -> str:
    """What is wrong with a file ``torch.load`` cannot read: empty, truncated or foreign."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (truncated: the write that made it did not finish)"
    with open(path, "rb") as file:
        head = file.read(4)
        file.seek(max(0, size - (1 << 16) - 22))
        tail = file.read()
    if head == b"PK\x03\x04" and b"PK\x05\x06" not in tail:
        return f"is truncated ({size} bytes, the end of its zip archive is missing)"
    return "is damaged or not a checkpoint"


def _advice(path: Path) -> str:
    """What to do about a damaged checkpoint: use the run's other one, or train again."""
    if path.name == LAST:
        best = path.parent / BEST
        also = f"; its best model so far is in {best} (noether evaluate uses it)"
        return (
            f"a run cannot resume from a damaged {LAST}: train it again"
            f"{also if best.is_file() else ''}"
        )
    if path.name == BEST:
        last = path.parent / LAST
        if last.is_file():
            return f"the latest weights are in {last} (noether evaluate --checkpoint last)"
        return "train the run again"
    return "give a whole checkpoint file (a run's checkpoints/last.ckpt or best.ckpt)"


def read_checkpoint(
    path: str | Path, map_location: Any = "cpu", weights_only: bool | None = False, **options: Any
) -> Any:
    """``torch.load`` of a checkpoint file; a file that cannot be read raises
    :class:`CorruptCheckpointError` (a ``ValueError``) naming it, what is wrong and what to do.
    ``options``: further arguments of ``torch.load`` (``mmap=True``)."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only, **options)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as error:
        raise CorruptCheckpointError(
            f"{path}: cannot read the checkpoint: the file {_damage(path)} "
            f"({type(error).__name__}: {error}); {_advice(path)}"
        ) from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by noether (it holds the run's config under ``"noether"``).

    Raises :class:`CorruptCheckpointError` (a ``ValueError``) naming the file when it is
    truncated, empty, damaged or not a noether checkpoint."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict) or "noether" not in checkpoint:
        raise CorruptCheckpointError(
            f"{path}: not a noether checkpoint (no 'noether' section with the config); "
            f"{_advice(path)}"
        )
    return checkpoint
