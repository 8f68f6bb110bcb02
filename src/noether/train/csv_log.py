"""``metrics.csv`` of a run: one row per logging call, on disk as soon as it is logged.

Unlike Lightning's CSVLogger it keeps the rows of an earlier part of the run when training
resumes (those up to the checkpoint's step), so a resumed run continues one curve.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only

from noether.core.io import atomic_write_text


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``metrics.csv`` as dicts of floats (empty cells left out); unreadable rows
    (a line cut by a kill) are skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as file:
        for raw in csv.DictReader(file):
            row = {}
            try:
                for key, value in raw.items():
                    if key is None or value in (None, ""):
                        continue
                    number = float(value)
                    row[key] = int(number) if key in ("step", "epoch") else number
            except (TypeError, ValueError):
                continue
            if "step" in row:
                rows.append(row)
    return rows


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


class RunCSVLogger(Logger):
    """Append metric rows to ``path``; with ``keep_until_step`` keep earlier rows up to it.

    Args:
        path: the CSV file.
        keep_until_step: on resume, rows with ``step <= keep_until_step`` are kept and later
            ones dropped; None starts a new file.
    """

    def __init__(self, path: str | Path, keep_until_step: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.keys: list[str] = ["step", "epoch"]
        self._started = False
        self._keep = keep_until_step

    @property
    def name(self) -> str:
        return "noether"

    @property
    def version(self) -> str:
        return "0"

    @property
    def log_dir(self) -> str:
        return str(self.path.parent)

    def _start(self) -> None:
        self._started = True
        rows = []
        if self._keep is not None:
            rows = [r for r in read_metrics(self.path) if r["step"] <= self._keep]
            for row in rows:
                for key in row:
                    if key not in self.keys:
                        self.keys.append(key)
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _format(v) for k, v in row.items()})
        atomic_write_text(self.path, buffer.getvalue())

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if not self._started:
            self._start()
        row = {"step": step if step is not None else 0, **metrics}
        for key in ("step", "epoch"):
            if key in row:
                row[key] = int(row[key])
        new = [k for k in row if k not in self.keys]
        if new:
            self.keys.extend(new)
            self._rewrite([*read_metrics(self.path), row])
            return
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=self.keys, lineterminator="\n").writerow(
            {k: _format(v) for k, v in row.items()}
        )
        with self.path.open("a", newline="") as file:
            file.write(buffer.getvalue())

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # the resolved config is config.yaml in the run folder
