"""Progress of a long loop, shown the same way by every command.

On a terminal a :class:`Progress` draws a tqdm bar; when its stream (stderr) is not a terminal (a
log file, a pipe, a batch job) it writes plain lines instead, one per interval::

    molecules 500/2000 (25%) 12.3 s

so a log file holds readable lines, never the carriage returns of a redrawn bar. Disabled
(``enabled=False``, a command's ``--no-progress``) it shows nothing; :meth:`Progress.write` still
prints. The interface is the part of tqdm's that noether uses (``update``, ``total``,
``refresh``, ``write``, ``close``, a context manager), so a loop that took a tqdm bar takes it.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from tqdm import tqdm

__all__ = ["Progress", "progress_line"]


def progress_line(desc: str, n: int, total: int | None, seconds: float) -> str:
    """The plain line of a progress: ``step 500/2000 (25%) 12.3 s`` (``step 500 12.3 s``
    without a total)."""
    if total:
        return f"{desc} {n}/{total} ({100 * n // total}%) {seconds:.1f} s"
    return f"{desc} {n} {seconds:.1f} s"


class Progress:
    """A progress reporter over ``total`` items.

    Args:
        total: items expected (None: unknown).
        desc: what is counted, the first word of each line (``"step"``, ``"molecules"``).
        unit: tqdm's unit on a terminal.
        enabled: False shows nothing (``--no-progress``).
        stream: where it writes (default: ``sys.stderr``).
        lines: plain lines per full run when not on a terminal (one each ``total / lines``
            items; every ``every`` items when that is given); the last item always gets one.
        every: items between plain lines (overrides ``lines``).
        bar: force the bar (True) or the lines (False); None: the bar on a terminal.
        initial: items already done (a resumed run).
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        desc: str = "step",
        unit: str = "it",
        enabled: bool = True,
        stream: IO[str] | None = None,
        lines: int = 10,
        every: int | None = None,
        bar: bool | None = None,
        initial: int = 0,
        **tqdm_kwargs: Any,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.desc, self.enabled = desc, enabled
        self.n, self._total = initial, total
        self._lines, self._every = max(1, lines), every
        self._start = time.perf_counter()
        self._last_line = initial
        terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        use_bar = terminal if bar is None else bar
        self._bar = (
            tqdm(
                total=total,
                desc=desc,
                unit=unit,
                initial=initial,
                file=self.stream,
                **tqdm_kwargs,
            )
            if enabled and use_bar
            else None
        )

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self._total = value
        if self._bar is not None:
            self._bar.total = value

    def _interval(self) -> int:
        if self._every is not None:
            return max(1, self._every)
        return max(1, -(-(self._total or 0) // self._lines)) if self._total else 1

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        if not self.enabled:
            return
        done = self._total is not None and self.n >= self._total
        if self.n != self._last_line and (done or self.n - self._last_line >= self._interval()):
            self._last_line = self.n
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        """The plain line of the progress so far."""
        return progress_line(self.desc, self.n, self._total, time.perf_counter() - self._start)

    def refresh(self) -> None:
        if self._bar is not None:
            self._bar.refresh()

    def write(self, text: str) -> None:
        """Print a line to stdout (above the bar on a terminal), shown even when disabled."""
        if self._bar is not None:
            tqdm.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
