"""Checkpoints of a run: ``last.ckpt`` to resume, ``best.ckpt`` to evaluate; always whole.

Every checkpoint file is written to a temporary name and moved into place, so a run killed at
any moment (mid-epoch, mid-write) leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from noether.core.checkpoints import (
    BEST,
    LAST,
    CorruptCheckpointError,
    find_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from noether.train.signals import RunInterrupted, StopOnSignal

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
