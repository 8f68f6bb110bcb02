"""``noether study polyget``: force-only against joint energy+force training of ET on polymers.

PolyGET (Feng et al., arXiv 2309.00585) trains the Equivariant Transformer on forces alone and
claims that this generalises across polymer families and runs stable MD. This study trains the
same ET twice on the same frames with the same budget (optimiser steps, batch, schedule, seed):
``force-only`` (energy weight 0) and ``joint`` (energy and forces, the task's default weights,
the same force weight), on the oligomers of ``train_units`` repeat units of every family except
``held_out``. Frames of each (family, temperature) trajectory are split in time: the first
``train_fraction`` train, the next ``val_fraction`` validate, the rest test, so test frames
are never neighbours of training frames.

It then measures, per family:

- **forces**: MAE (meV/Å) on the test frames of the trained families (in distribution), on every
  frame of the held-out families (unseen), and on every frame of the longer chains
  (``long_units``, trained families);
- **MD robustness**: Langevin MD with each model from an xTB frame of each family at each of
  ``md_temperatures``, stopped by the :class:`~noether.atoms.stability.StabilityMonitor` (a bond
  of the start changing by more than 0.5 Å, two atoms closer than 0.5 Å, or a non-finite number),
  with the time to failure;
- **structural fidelity**: Wasserstein-1 distances between the model's MD and the xTB MD of the
  data at the same temperature, for bond lengths, bond angles and all pair distances (RDF).

This module says *what* a study is (:class:`PolyGETPlan`, presets, splits, configs);
:mod:`noether.studies.polyget.run` runs it and :mod:`noether.studies.polyget.report` writes
the tables and plots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from noether.studies.recipe import cpu_run_sections

__all__ = ["MODELS", "PRESETS", "PolyGETPlan", "preset", "study_indices"]

#: The two objectives: (energy_weight, forces_weight) of the ``atoms`` task.
MODELS: dict[str, tuple[float, float]] = {"force-only": (0.0, 10.0), "joint": (1.0, 10.0)}


@dataclass(frozen=True)
class PolyGETPlan:
    """Everything that defines a study (see ``noether study polyget --help``)."""

    data: str = "data/polymers/polymers.h5"
    out: str = "runs/study-polyget"
    held_out: tuple[str, ...] = ("pp", "pla", "nylon6")
    train_units: int = 2
    long_units: int = 3
    train_fraction: float = 0.7
    val_fraction: float = 0.1
    models: tuple[str, ...] = tuple(MODELS)
    hidden: int = 64
    layers: int = 3
    heads: int = 4
    num_rbf: int = 16
    cutoff: float = 5.0
    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-3
    seed: int = 0
    md_temperatures: tuple[float, ...] = (300.0, 500.0)
    md_steps: int = 1000
    md_timestep: float = 0.5
    md_friction: float = 0.01
    md_log_every: int = 10
    md_compile: bool = False
    workers: int = 2

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown models {unknown}; accepted: {', '.join(MODELS)}")
        for name in ("steps", "batch_size", "md_steps", "md_log_every", "train_units"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.long_units <= self.train_units:
            raise ValueError(
                f"long_units ({self.long_units}) must exceed train_units ({self.train_units})"
            )
        if not (0 < self.train_fraction and 0 < self.val_fraction):
            raise ValueError("train_fraction and val_fraction must be > 0")
        if self.train_fraction + self.val_fraction >= 1:
            raise ValueError("train_fraction + val_fraction must leave frames for the test")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")

    def run_dir(self, model: str) -> Path:
        return Path(self.out) / "runs" / model

    @property
    def splits_path(self) -> Path:
        return Path(self.out) / "splits.npz"

    def config(self, model: str) -> dict[str, Any]:
        """The training config of one model (for :func:`noether.train.config.load_config`)."""
        energy_weight, forces_weight = MODELS[model]
        return {
            "seed": self.seed,
            "model": {
                "name": "et",
                "hidden": self.hidden,
                "layers": self.layers,
                "heads": self.heads,
                "num_rbf": self.num_rbf,
                "cutoff": self.cutoff,
            },
            "task": {
                "name": "atoms",
                "path": self.data,
                "splits": str(self.splits_path),
                "energy_weight": energy_weight,
                "forces_weight": forces_weight,
                # force-only training never looks at an energy: no reference energies either
                "fit_atomref": energy_weight > 0,
            },
            "data": {"batch_size": self.batch_size, "eval_batch_size": 32},
            **cpu_run_sections(self.lr, self.steps, max_epochs=10_000),
            "run": {"dir": str(self.run_dir(model))},
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def study_indices(info: dict[str, np.ndarray], plan: PolyGETPlan) -> dict[str, np.ndarray]:
    """Frame indices of the study's sets from the data's ``frame_info``.

    Returns ``idx_train``, ``idx_val``, ``idx_test`` (trained families, ``train_units``; each
    (family, temperature) trajectory split in time), ``idx_unseen`` (held-out families,
    ``train_units``, every frame) and ``idx_long`` (trained families, ``long_units``, every frame).
    Raises if a held-out family is missing or no family is left to train on.
    """
    family, units, temperature = info["family"], info["n_units"], info["temperature"]
    families = list(dict.fromkeys(family.tolist()))
    missing = [f for f in plan.held_out if f not in families]
    if missing:
        raise ValueError(f"held-out families {missing} are not in the data ({families})")
    trained = [f for f in families if f not in plan.held_out]
    if not trained:
        raise ValueError("every family of the data is held out; nothing to train on")
    out: dict[str, list[int]] = {k: [] for k in ("train", "val", "test", "unseen", "long")}
    for f in families:
        for t in sorted(set(temperature[(family == f) & (units == plan.train_units)].tolist())):
            frames = np.flatnonzero(
                (family == f) & (units == plan.train_units) & (temperature == t)
            )
            if f in plan.held_out:
                out["unseen"].extend(frames.tolist())
                continue
            n_train = round(plan.train_fraction * len(frames))
            n_val = max(round(plan.val_fraction * len(frames)), 1)
            out["train"].extend(frames[:n_train].tolist())
            out["val"].extend(frames[n_train : n_train + n_val].tolist())
            out["test"].extend(frames[n_train + n_val :].tolist())
        if f not in plan.held_out:
            out["long"].extend(np.flatnonzero((family == f) & (units == plan.long_units)).tolist())
    return {f"idx_{k}": np.asarray(v, dtype=np.int64) for k, v in out.items()}


PRESETS: dict[str, dict[str, Any]] = {
    # a pipeline check in a minute or two (tests, and a look before the real thing)
    "quick": {"steps": 30, "hidden": 16, "layers": 1, "heads": 2, "num_rbf": 8, "md_steps": 40},
    # the documented study: well under an hour on 2 shared CPU cores
    "default": {},
    # closer to PolyGET's scale (hours): a wider, deeper ET, longer training and 50 ps MD
    "large": {
        "hidden": 128,
        "layers": 6,
        "heads": 8,
        "num_rbf": 32,
        "steps": 30000,
        "md_steps": 100_000,
        "md_log_every": 50,
    },
}


def preset(name: str, **overrides: Any) -> PolyGETPlan:
    """The plan of a preset with some fields replaced (``None`` values are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(PolyGETPlan(**PRESETS[name]), **changes)
