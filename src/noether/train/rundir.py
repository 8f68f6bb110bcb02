"""The run folder: where it is, and what it holds besides checkpoints and metrics.

::

    runs/<name>/
      config.yaml     the resolved config (every default filled in): rerun it as it is
      meta.json       seed, package versions, command line, launcher, start and resume times
      splits.npz      idx_train / idx_val / idx_test of the task's data
      metrics.csv     one row per logging step
      learning_curve.png
      checkpoints/last.ckpt, checkpoints/best.ckpt
      run.lock        held by the one process that writes the folder (noether.train.lock)
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from noether import __version__
from noether.core.io import atomic_write_json, atomic_write_text
from noether.train.config import Config, ConfigError
from noether.train.datamodule import save_splits
from noether.train.distributed import Launch

ENV_RUN_DIR = "NOETHER_RUN_DIR"
CONFIG, META, SPLITS, METRICS, CURVE = (
    "config.yaml",
    "meta.json",
    "splits.npz",
    "metrics.csv",
    "learning_curve.png",
)


def resolve_run_dir(config: Config, launch: Launch) -> Path:
    """``run.dir``; else ``<run.root>/<name>-<job id>`` under a launcher that gives a job id;
    else ``<run.root>/<name>-<date>-<time>``. ``name`` is ``run.name`` or the config file's."""
    if config.run.dir:
        return Path(config.run.dir)
    if os.environ.get(ENV_RUN_DIR):  # chosen by the parent of processes Lightning spawned
        return Path(os.environ[ENV_RUN_DIR])
    name = config.run.name or (
        Path(config.source).stem if config.source else f"{config.task.name}-{config.model.name}"
    )
    root = Path(config.run.root)
    if launch.job_id:
        return root / f"{name}-{launch.job_id}"
    if launch.world_size > 1:
        raise ConfigError(
            "run.dir: a multi-process run without a job id needs one folder named for all "
            "processes; pass --run.dir=runs/NAME (or torchrun --rdzv-id=ID)"
        )
    stem = root / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = stem, 1
    while path.exists():
        k += 1
        path = stem.with_name(f"{stem.name}-{k}")
    return path


def check_fresh(run_dir: Path) -> None:
    """A new run must not write over an earlier one."""
    if (run_dir / CONFIG).exists() or (run_dir / "checkpoints").exists():
        raise ConfigError(
            f"run.dir: {str(run_dir)!r} already holds a run; continue it with "
            f"`noether train --resume {run_dir}` or choose another --run.dir"
        )


def versions() -> dict[str, str]:
    import lightning
    import torch

    return {
        "noether": __version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "python": platform.python_version(),
    }


class RunFolder(Callback):
    """Writes config, meta and splits on rank 0 once every process has joined (so no process
    can see another's files when checking that the folder is fresh)."""

    def __init__(
        self,
        run_dir: Path,
        config: Config,
        launch: Launch,
        splits: dict[str, Any] | None,
        split_mode: str,
        resumed_from: Path | None,
        continuing: bool = False,
    ) -> None:
        self.run_dir, self.config, self.launch = run_dir, config, launch
        self.splits, self.split_mode, self.resumed_from = splits, split_mode, resumed_from
        self.continuing = continuing  # --resume: from resumed_from, or from the beginning

    def setup(self, trainer, pl_module, stage: str) -> None:
        if trainer.is_global_zero:
            self.write(trainer.world_size)
        trainer.strategy.barrier("noether-run-folder")

    def write(self, world_size: int) -> None:
        run_dir = self.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        meta_path = run_dir / META
        if self.continuing and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            meta.setdefault("resumes", []).append(
                {
                    "time": now,
                    # null: stopped before its first checkpoint, started again from the beginning
                    "checkpoint": None if self.resumed_from is None else str(self.resumed_from),
                    "command": sys.argv,
                    "world_size": world_size,
                    "versions": versions(),
                }
            )
        else:
            meta = {
                "seed": self.config.seed,
                "versions": versions(),
                "command": sys.argv,
                "started": now,
                "host": socket.gethostname(),
                "launcher": self.launch.kind,
                "world_size": world_size,
                "config_file": self.config.source,
                # relative data paths of the config are relative to this folder
                "cwd": os.getcwd(),
            }
            if self.splits is not None and not (self.continuing and (run_dir / SPLITS).is_file()):
                save_splits(run_dir / SPLITS, self.splits, self.split_mode)
            else:
                meta["splits"] = "owned by the task's LightningDataModule"
        atomic_write_text(run_dir / CONFIG, self.config.to_yaml())
        atomic_write_json(meta_path, meta)
