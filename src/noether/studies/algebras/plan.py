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

import dataclasses
import functools
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from noether.core import registry
from noether.core.config import config_class
from noether.core.cost import count_parameters
from noether.gatr.flops import training_flops
from noether.sims.nbody.task import MODEL_CHANNELS
from noether.studies.recipe import cpu_run_sections

__all__ = [
    "MODELS",
    "PRESETS",
    "WIDTHS",
    "ModelSpec",
    "StudyPlan",
    "matched_width",
    "model_cost",
    "model_specs",
    "preset",
]


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
    # GATr: multivector channels, scalar channels, blocks, heads; the Transformers' widths are
    # matched to the iPGA-GATr (model_specs)
    "small": {"mv": 8, "s": 32, "blocks": 2, "heads": 4},
    "base": {"mv": 16, "s": 64, "blocks": 4, "heads": 8},
    "paper": {"mv": 16, "s": 128, "blocks": 10, "heads": 8},
}


TRANSFORMER_HEADS = 4
"""Heads of the baseline Transformers (their width is a multiple of it)."""


def model_cost(model: dict[str, Any], tokens: int = 4) -> dict[str, float]:
    """``{"parameters", "flops_per_token"}`` of a ``model:`` section on n-body tokens: trainable
    parameters and the structured (intrinsic) FLOPs of one training step per token
    (:func:`noether.gatr.flops.training_flops`, forward and backward)."""
    return _cost(_build(model), tokens)


def _cost(net: nn.Module, tokens: int = 4) -> dict[str, float]:
    flops = training_flops(net, 1, tokens, "intrinsic").total / tokens
    return {"parameters": count_parameters(net), "flops_per_token": flops}


def _build(model: dict[str, Any]) -> nn.Module:
    """The model of a ``model:`` section with the n-body task's channels (those it accepts)."""
    cls = registry.lookup("model", model["name"])
    fields = {f.name for f in dataclasses.fields(config_class(cls))}
    channels = {k: v for k, v in MODEL_CHANNELS.items() if k in fields}
    return cls(**{k: v for k, v in model.items() if k != "name"}, **channels)


def matched_width(target: float, measure: str, blocks: int, heads: int) -> int:
    """The Transformer width (a multiple of ``heads``, ``blocks`` blocks, the task's channels)
    whose ``measure`` (``"parameters"`` or ``"flops_per_token"``, see :func:`model_cost`) is
    closest to ``target``."""
    cls = registry.lookup("model", "transformer")
    fields = {f.name for f in dataclasses.fields(config_class(cls))}
    channels = {k: v for k, v in MODEL_CHANNELS.items() if k in fields}
    model = cls.matching_cost(
        target,
        lambda net: _cost(net)[measure],
        num_blocks=blocks,
        num_heads=heads,
        **channels,
    )
    return model.config.hidden_channels


@functools.lru_cache(maxsize=8)
def model_specs(width: str = "small", match: str = "ipga") -> dict[str, ModelSpec]:
    """The models of the study at one of the :data:`WIDTHS`.

    The Transformers are matched to the ``match`` GATr: ``transformer`` and ``transformer-aug``
    at equal parameters, ``transformer-flops`` at equal training FLOPs per token (structured
    count); the tiny width keeps one fixed small Transformer (pipeline tests)."""
    w = WIDTHS[width]
    gatr = {k: w[k] for k in ("mv", "s", "blocks", "heads")}
    specs = {
        "ega": ModelSpec("EGA-GATr", _gatr("ega", **gatr)),
        "pga": ModelSpec("PGA-GATr", _gatr("pga", **gatr)),
        "ipga": ModelSpec("iPGA-GATr", _gatr("ipga", **gatr)),
        "cga": ModelSpec("CGA-GATr", _gatr("cga", **gatr)),
    }
    if width == "tiny":
        by_params = by_flops = 8
    else:
        reference = model_cost(specs[match].model)
        heads = TRANSFORMER_HEADS
        by_params = matched_width(reference["parameters"], "parameters", w["blocks"], heads)
        by_flops = matched_width(
            reference["flops_per_token"], "flops_per_token", w["blocks"], heads
        )
    t = _transformer(by_params, w["blocks"], TRANSFORMER_HEADS)
    tf = _transformer(by_flops, w["blocks"], TRANSFORMER_HEADS)
    matched = "" if width == "tiny" else f" of {specs[match].label}"
    return specs | {
        "transformer": ModelSpec(f"Transformer (params{matched})", t, equivariant=False),
        "transformer-flops": ModelSpec(f"Transformer (FLOPs{matched})", tf, equivariant=False),
        "transformer-aug": ModelSpec(
            f"Transformer + aug. (params{matched})", t, augment=True, equivariant=False
        ),
    }


MODELS = ("ega", "pga", "ipga", "cga", "transformer", "transformer-flops", "transformer-aug")


@dataclass(frozen=True)
class StudyPlan:
    """Everything that defines a study (see ``noether study algebras --help``)."""

    data: str = "data/nbody-placed"
    out: str = "runs/study-algebras"
    models: tuple[str, ...] = MODELS
    sizes: tuple[int, ...] = (100, 1000, 10000)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    eval_every: int = 300
    placement: str = "random"
    shift: float = 1.0
    n_val: int = 250
    n_test: int = 1000
    width: str = "small"
    workers: int = 2
    specs: dict[str, ModelSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        known = tuple(self.specs) or MODELS
        unknown = [m for m in self.models if m not in known]
        if unknown:
            raise ValueError(f"unknown models {unknown}; accepted: {', '.join(known)}")
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
        if self.placement not in ("random", "canonical"):
            raise ValueError(f"placement must be random or canonical, got {self.placement!r}")
        if not (math.isfinite(self.shift) and self.shift >= 0):
            raise ValueError(f"shift must be finite and >= 0, got {self.shift}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.width not in WIDTHS:
            raise ValueError(f"width must be one of {', '.join(WIDTHS)}, got {self.width!r}")

    def spec(self, model: str) -> ModelSpec:
        """The model's :class:`ModelSpec`: from ``specs`` when given, else from
        :func:`model_specs` at the plan's width (built on first use: matching the Transformers'
        widths builds models)."""
        return (self.specs or model_specs(self.width))[model]

    def jobs(self) -> list[tuple[str, int, int]]:
        """``(model, size, seed)`` of every run, the costliest first (large sets, CGA)."""
        order = {m: i for i, m in enumerate(("cga", "ipga", "pga", "transformer-flops"))}
        jobs = [(m, n, s) for m in self.models for n in self.sizes for s in self.seeds]
        return sorted(jobs, key=lambda j: (j[2], order.get(j[0], 9), -j[1]))

    def run_dir(self, model: str, size: int, seed: int) -> Path:
        return Path(self.out) / "runs" / f"{model}-n{size}-s{seed}"

    def config(self, model: str, size: int, seed: int) -> dict[str, Any]:
        """The training config of one run (a mapping for :func:`noether.train.config.load_config`)."""
        spec = self.spec(model)
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
        out["specs"] = {k: asdict(self.spec(k)) for k in self.models}
        return out


PRESETS: dict[str, dict[str, Any]] = {
    # `noether run`: iPGA-GATr against the Transformer of its parameter count, a few minutes
    "quick": {
        "data": "data/nbody-placed-quick",
        "out": "runs/quickstart",
        "models": ("ipga", "transformer"),
        "sizes": (1000,),
        "seeds": (0, 1, 2),
        "steps": 1000,
        "eval_every": 200,
        "n_test": 500,
    },
    # the documented study (docs/nbody.md has its wall time on the 2-core machine)
    "default": {},
    # closer to the paper: more sizes, steps and a wider model (a GPU or a day of CPU)
    "large": {
        "sizes": (100, 300, 1000, 3000, 10000),
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
    return replace(plan, **changes)
