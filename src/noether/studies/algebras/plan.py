"""``noether study algebras``: which geometric algebra makes the best transformer for n-body?

de Haan, Cohen and Brehmer (arXiv 2311.04744) compare GATr over the Euclidean, projective and
conformal algebras. A study trains every model of :data:`MODELS` on the first ``n`` training
systems of an n-body dataset for each ``n`` in ``sizes`` and each seed, all with the same budget
(optimiser steps, batch size, learning-rate schedule), and evaluates the best checkpoint (by
validation loss) on the test, rotated, translated and larger test sets.

This module says *what* a study is (:class:`StudyPlan`, the models, the presets);
:mod:`noether.studies.algebras.run` runs it and :mod:`noether.studies.algebras.report` writes
the table and the plot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from noether.studies.recipe import cpu_run_sections

__all__ = ["MODELS", "PRESETS", "WIDTHS", "ModelSpec", "StudyPlan", "model_specs", "preset"]


@dataclass(frozen=True)
class ModelSpec:
    """One model of the study: its ``model:`` config section and whether to augment."""

    label: str
    model: dict[str, Any]
    augment: bool = False
    equivariant: bool = True


def _gatr(algebra: str, mv: int, s: int, blocks: int, heads: int) -> dict[str, Any]:
    return {
        "name": "noether.gatr:GATr",
        "algebra": algebra,
        "hidden_mv_channels": mv,
        "hidden_s_channels": s,
        "num_blocks": blocks,
        "num_heads": heads,
    }


def _transformer(width: int, blocks: int, heads: int) -> dict[str, Any]:
    return {
        "name": "noether.gatr.nets.transformer:Transformer",
        "hidden_channels": width,
        "num_blocks": blocks,
        "num_heads": heads,
    }


WIDTHS = {
    "tiny": {"mv": 2, "s": 4, "blocks": 1, "heads": 1},  # for tests of the pipeline
    # GATr: multivector channels, scalar channels; Transformer: 16 mv + s real channels, as in
    # the GATr paper's n-body baseline (16 mv + 128 s <-> 384).
    "small": {"mv": 8, "s": 32, "blocks": 2, "heads": 4},
    "base": {"mv": 16, "s": 64, "blocks": 4, "heads": 8},
    "paper": {"mv": 16, "s": 128, "blocks": 10, "heads": 8},
}


def model_specs(width: str = "small") -> dict[str, ModelSpec]:
    """The models of the study at one of the :data:`WIDTHS`."""
    w = WIDTHS[width]
    gatr = {k: w[k] for k in ("mv", "s", "blocks", "heads")}
    t = _transformer(16 * w["mv"] + w["s"], w["blocks"], w["heads"])
    return {
        "ega": ModelSpec("EGA-GATr", _gatr("ega", **gatr)),
        "pga": ModelSpec("PGA-GATr", _gatr("pga", **gatr)),
        "ipga": ModelSpec("iPGA-GATr", _gatr("ipga", **gatr)),
        "cga": ModelSpec("CGA-GATr", _gatr("cga", **gatr)),
        "transformer": ModelSpec("Transformer", t, equivariant=False),
        "transformer-aug": ModelSpec("Transformer + aug.", t, augment=True, equivariant=False),
    }


MODELS = tuple(model_specs())


@dataclass(frozen=True)
class StudyPlan:
    """Everything that defines a study (see ``noether study algebras --help``)."""

    data: str = "data/nbody"
    out: str = "runs/study-algebras"
    models: tuple[str, ...] = MODELS
    sizes: tuple[int, ...] = (100, 1000, 10000)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 150
    n_val: int = 250
    n_test: int = 1000
    width: str = "small"
    workers: int = 2
    specs: dict[str, ModelSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.specs:
            object.__setattr__(self, "specs", model_specs(self.width))
        unknown = [m for m in self.models if m not in self.specs]
        if unknown:
            raise ValueError(f"unknown models {unknown}; accepted: {', '.join(self.specs)}")
        checks = {
            "sizes": min(self.sizes, default=0),
            "seeds": len(self.seeds),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "eval_every": self.eval_every,
            "n_val": self.n_val,
            "n_test": self.n_test,
        }
        for name, value in checks.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1 (and non-empty), got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(WIDTHS)}, got {self.width!r}")

    def jobs(self) -> list[tuple[str, int, int]]:
        """``(model, size, seed)`` of every run, the costliest first (large sets, CGA)."""
        order = {m: i for i, m in enumerate(("cga", "ipga", "pga", "transformer-aug"))}
        jobs = [(m, n, s) for m in self.models for n in self.sizes for s in self.seeds]
        return sorted(jobs, key=lambda j: (j[2], order.get(j[0], 9), -j[1]))

    def run_dir(self, model: str, size: int, seed: int) -> Path:
        return Path(self.out) / "runs" / f"{model}-n{size}-s{seed}"

    def config(self, model: str, size: int, seed: int) -> dict[str, Any]:
        """The training config of one run (a mapping for :func:`noether.train.config.load_config`)."""
        spec = self.specs[model]
        epochs = -(-self.steps // self.eval_every)
        return {
            "seed": seed,
            "model": dict(spec.model),
            "task": {
                "name": "nbody",
                "path": self.data,
                "n_train": size,
                "n_val": self.n_val,
                "epoch_size": self.eval_every * self.batch_size,
                "augment": spec.augment,
            },
            "data": {"batch_size": self.batch_size, "eval_batch_size": 250},
            **cpu_run_sections(self.lr, self.steps, max_epochs=epochs),
            "run": {"dir": str(self.run_dir(model, size, seed))},
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["specs"] = {k: asdict(v) for k, v in self.specs.items() if k in self.models}
        return out


PRESETS: dict[str, dict[str, Any]] = {
    # `noether run`: iPGA-GATr against the Transformer, a few minutes.
    "quick": {
        "data": "data/nbody-quick",
        "out": "runs/quickstart",
        "models": ("ipga", "transformer"),
        "sizes": (1000,),
        "seeds": (0,),
        "steps": 1000,
        "eval_every": 200,
        "n_test": 500,
    },
    # the documented study: about 30 minutes on 2 idle cores (estimated, docs/nbody.md)
    "default": {},
    # closer to the paper: more sizes, seeds, steps and a wider model (hours to days on CPU)
    "large": {
        "sizes": (100, 300, 1000, 3000, 10000),
        "seeds": (0, 1, 2, 3, 4),
        "steps": 20000,
        "eval_every": 1000,
        "n_val": 1000,
        "width": "base",
    },
}


def preset(name: str, **overrides: Any) -> StudyPlan:
    """The plan of a preset with some fields replaced (``None`` values are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    plan = StudyPlan(**PRESETS[name])
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "width" in changes:
        changes["specs"] = model_specs(changes["width"])
    return replace(plan, **changes)
