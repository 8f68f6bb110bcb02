"""``noether study finetune``: fine-tuning a trained ET on a new molecule against training from
scratch on the same frames.

An ET is trained once on the ``source`` molecules (by default ethanol and malonaldehyde: H, C,
O). On a few hundred frames of a ``new`` molecule (by default acetamide, whose nitrogen the
source never saw, and an amide group besides), each seed trains:

- ``scratch``: the same ET from its own initialisation, at the source's learning rate ``lr``;
- ``finetune``: from the source run's weights (``finetune.init_from``: nitrogen's embedding rows
  start as the mean of H, C and O's, the reference energies are refit on the new frames), at
  ``finetune_lr``;
- ``finetune-frozen`` (only when listed in ``arms``): as ``finetune``, with the parameters named by
  ``freeze`` kept fixed.

Every arm of a seed trains on the same frames (drawn from the ``new`` trajectory with that seed)
for the same number of steps, batch and schedule; the seed also sets the initialisation and the
order of the batches. Errors are measured on ``test``, an independent trajectory of the new
molecule (another MD seed), never on frames of the training trajectory.

This module says *what* the study is; :mod:`noether.studies.finetune.run` runs it and
:mod:`noether.studies.finetune.report` writes the table and the figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from noether.studies.recipe import cpu_run_sections

__all__ = ["ARMS", "FinetunePlan"]

ARMS = ("scratch", "finetune", "finetune-frozen")


@dataclass(frozen=True)
class FinetunePlan:
    """Everything that defines a study (see ``noether study finetune --help``)."""

    source: tuple[str, ...] = (
        "data/finetune/source/ethanol.xyz",
        "data/finetune/source/malonaldehyde.xyz",
    )
    new: str = "data/finetune/new/acetamide.xyz"
    test: str = "data/finetune/test/acetamide.xyz"
    out: str = "runs/study-finetune"
    arms: tuple[str, ...] = ("scratch", "finetune")
    frames: int = 300
    val_frames: int = 50
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: int = 32
    layers: int = 2
    heads: int = 4
    num_rbf: int = 16
    cutoff: float = 4.0
    max_z: int = 10
    source_steps: int = 3000
    steps: int = 1500
    batch_size: int = 8
    lr: float = 1e-3
    finetune_lr: float = 3e-4
    freeze: tuple[str, ...] = ("embedding", "neighbor_embedding", "layers.0")
    workers: int = 2

    def __post_init__(self) -> None:
        unknown = [a for a in self.arms if a not in ARMS]
        if unknown:
            raise ValueError(f"unknown arms {unknown}; accepted: {', '.join(ARMS)}")
        if not self.source:
            raise ValueError("source: give at least one data file")
        if not self.seeds:
            raise ValueError("seeds: give at least one")
        for name in ("frames", "val_frames", "steps", "source_steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size > self.frames:
            raise ValueError(f"batch_size ({self.batch_size}) exceeds frames ({self.frames})")
        if not (self.lr > 0 and self.finetune_lr > 0):
            raise ValueError(f"lr and finetune_lr must be > 0, got {self.lr}, {self.finetune_lr}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")

    # --------------------------------------------------------------------------- where
    @property
    def source_data(self) -> Path:
        """The source molecules' frames in one file (written by the study)."""
        return Path(self.out) / "data" / "source.h5"

    def splits_path(self, seed: int) -> Path:
        return Path(self.out) / "data" / f"new_seed{seed}.npz"

    def run_dir(self, arm: str, seed: int | None = None) -> Path:
        """``<out>/runs/source`` or ``<out>/runs/<arm>-seed<seed>``."""
        name = arm if seed is None else f"{arm}-seed{seed}"
        return Path(self.out) / "runs" / name

    # --------------------------------------------------------------------------- what
    def _model(self) -> dict[str, Any]:
        return {
            "name": "et",
            "hidden": self.hidden,
            "layers": self.layers,
            "heads": self.heads,
            "num_rbf": self.num_rbf,
            "cutoff": self.cutoff,
            "max_z": self.max_z,
        }

    def source_config(self) -> dict[str, Any]:
        """The training config of the source run: 90 % of the source frames train, 10 %
        validate (seed 0)."""
        return {
            "seed": 0,
            "model": self._model(),
            "task": {"name": "atoms", "path": str(self.source_data), "split": [0.9, 0.1, 0.0]},
            "data": {"batch_size": self.batch_size, "eval_batch_size": 64},
            **cpu_run_sections(self.lr, self.source_steps, max_epochs=10_000),
            "run": {"dir": str(self.run_dir("source"))},
        }

    def config(self, arm: str, seed: int) -> dict[str, Any]:
        """The training config of one arm and seed on the new molecule's frames."""
        finetune: dict[str, Any] = {}
        if arm != "scratch":
            finetune["init_from"] = str(self.run_dir("source"))
        if arm == "finetune-frozen":
            finetune["freeze"] = list(self.freeze)
        lr = self.lr if arm == "scratch" else self.finetune_lr
        config = {
            "seed": seed,
            "model": self._model(),
            "task": {"name": "atoms", "path": self.new, "splits": str(self.splits_path(seed))},
            "data": {"batch_size": self.batch_size, "eval_batch_size": 64},
            **cpu_run_sections(lr, self.steps, max_epochs=10_000),
            "run": {"dir": str(self.run_dir(arm, seed))},
        }
        config["trainer"]["checkpoint_every_n_steps"] = 250  # a killed study loses little
        if finetune:
            config["finetune"] = finetune
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
