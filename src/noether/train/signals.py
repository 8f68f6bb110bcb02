"""Stopping a run on SIGTERM or SIGINT: at the end of the optimiser step, with ``last.ckpt``.

While the run trains, the first SIGTERM (``scancel``, ``kill``, a scheduler's time limit) or
SIGINT (Ctrl-C) is recorded; the step in progress finishes, ``last.ckpt`` is written (the
checkpoint that resumes exactly, mid-epoch included; at the last step of an epoch, after its
validation) and :class:`RunInterrupted` ends the run. All processes of a multi-process run
decide together after every step, so they stop at the same one. A second signal, or one that
comes before training starts or after it ends, stops at once (the previous ``last.ckpt``, whole,
is where the run resumes). ``noether train`` then exits with ``128 + signal number``: 143 for
SIGTERM, 130 for SIGINT.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(BaseException):
    """A signal stopped the run; ``exit_status`` is ``128 + signum``. Like KeyboardInterrupt a
    BaseException, so that no ``except Exception`` on the way mistakes it for an error."""

    def __init__(self, signum: int, saved_step: int | None = None) -> None:
        self.signum = signum
        self.saved_step = saved_step  # the step of the last.ckpt written on the way out, if any
        self.run_dir: Path | None = None
        self.resumable = False  # the run folder holds a config.yaml: --resume continues it
        super().__init__(f"stopped by {self.name}")

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        """One line: what stopped the run and the command that continues it."""
        saved = (
            f"last.ckpt written at step {self.saved_step}; " if self.saved_step is not None else ""
        )
        if self.resumable:
            return f"stopped by {self.name}; {saved}continue with: noether train --resume {self.run_dir}"
        return (
            f"stopped by {self.name} before the run folder was written; run the same command again"
        )


class StopOnSignal:
    """Handlers of SIGTERM and SIGINT for the length of a ``with`` block (main thread only).

    ``graceful`` is True while training: a first signal is only recorded (``signum``) and the
    run stops at the end of the step (:meth:`requested`); otherwise it raises
    :class:`RunInterrupted` at once.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.graceful = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def install(self) -> None:
        """Take SIGTERM back from Lightning, which replaces the handler when fit starts (its
        own stops between steps without a checkpoint and exits with status 0)."""
        if self._previous:
            signal.signal(signal.SIGTERM, self.handle)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None and self.graceful:
            self.signum = signum
            return
        raise RunInterrupted(signum)

    def requested(self, trainer) -> bool:
        """Whether any process got a signal (a collective call on every process)."""
        local = self.signum is not None
        if trainer.world_size > 1:
            return bool(trainer.strategy.reduce_boolean_decision(local, all=False))
        return local
