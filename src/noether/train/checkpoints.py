"""Checkpoints of a run: ``last.ckpt`` to resume, ``best.ckpt`` to evaluate; always whole.

Every checkpoint file is written to a temporary name and moved into place, so a run killed at
any moment (mid-epoch, mid-write) leaves the previous ``last.ckpt`` intact.
"""

from __future__ import annotations

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


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint IO, written through a temporary file."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any = None
    ) -> None:
        atomic_write(path, lambda file: torch.save(checkpoint, file))


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


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by noether (it holds the run's config under ``"noether"``)."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise ValueError(
            f"{path}: not a readable checkpoint ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(checkpoint, dict) or "noether" not in checkpoint:
        raise ValueError(f"{path}: not a noether checkpoint (no 'noether' section with the config)")
    return checkpoint
