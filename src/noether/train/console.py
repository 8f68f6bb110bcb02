"""What a run prints: a progress bar in a terminal, one line per epoch otherwise, and no chatter."""

from __future__ import annotations

import logging
import sys
import time
import warnings

from lightning.pytorch.callbacks import Callback

_CHATTER = (
    r".*does not have many workers.*",
    r".*number of training batches.*is smaller than the logging interval.*",
    r".*LeafSpec.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    # Our batch sampler restarts mid-epoch from the checkpoint's position (noether.train.sampler).
    r".*resuming from a checkpoint that ended before the epoch ended.*",
    # Validation metrics are summed over processes by TrainingModule before they are logged.
    r".*It is recommended to use `self.log\(.*sync_dist=True\)`.*",
)


def quiet_lightning() -> None:
    """Lightning's informational log lines and performance hints off; warnings stay."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in _CHATTER:
        warnings.filterwarnings("ignore", message=pattern)


def want_progress_bar(setting: bool | str) -> bool:
    """``auto``: a bar when standard error is a terminal."""
    if setting == "auto":
        return sys.stderr.isatty()
    return bool(setting)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _with_unit(
    value: float,
    key: str,
    units: dict[str, str],
    conversions: dict[str, tuple[str, float, str]] | None = None,
) -> str:
    """``12.3 meV`` for ``val/energy_mae`` when the task's ``units`` name one for ``energy``;
    ``conversions`` (``{quantity: (from, factor, to)}``) reports a quantity in ``to`` instead."""
    name = key.split("/", 1)[-1].rsplit("_", 1)[0] if key.endswith(("_mae", "_rmse")) else ""
    unit = units.get(name, "")
    if conversions and name in conversions:
        _, factor, unit = conversions[name]
        value = value * factor
    return f"{_fmt(value)} {unit}" if unit else _fmt(value)


class EpochLines(Callback):
    """One line per epoch on rank 0: the epoch's mean training loss, the validation errors (in
    the units of the task's ``units``, or of ``unit`` through the task's ``unit_conversions``)
    and the time it took."""

    def __init__(self, max_epochs: int, unit: str | None = None) -> None:
        self.max_epochs = max_epochs
        self.unit = unit
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        train_loss = pl_module.train_epoch_loss()  # every process takes part in the sum
        if trainer.global_rank != 0:
            return
        metrics = trainer.callback_metrics
        parts = [
            f"epoch {trainer.current_epoch + 1}/{self.max_epochs}",
            f"train/loss {'- (resumed at the end of the epoch)' if train_loss is None else _fmt(train_loss)}",
        ]
        task = getattr(pl_module, "task", None)
        units = getattr(task, "units", {})
        conversions = task.unit_conversions(self.unit) if self.unit and task is not None else None
        for key in sorted(metrics):
            if key.startswith("val/"):
                parts.append(f"{key} {_with_unit(float(metrics[key]), key, units, conversions)}")
        parts.append(f"({time.perf_counter() - self._start:.1f} s)")
        print("  ".join(parts), flush=True)
