"""What a scaling sweep runs: families, model sizes, steps, data sizes, and the points they make.

A **point** is one training run: a family, a model size, a number of training steps and a number of
training scenes. The sweep has two parts, per family:

- the **model x steps grid**: every size at every number of steps, on ``grid_scenes`` scenes
  (for the compute frontier and the joint law ``L(N, D)``);
- the **data sweep**: the size ``data_size`` at ``data_steps`` steps on each of ``data_scenes``
  (data efficiency, and how it changes with the number of epochs).

Points that differ only in their number of steps form a **chain**: the learning rate is constant
after warm-up, so the run of ``S2 > S1`` steps is the run of ``S1`` steps continued, and each chain
trains once, leaving a finished run folder at each of its step counts (the training stack's
resume is exact; the tests check that a continued point equals a fresh one).

:data:`PRESETS` holds the default ``small`` sweep (2 CPU cores, within an hour) and ``large``
(GPUs); a YAML file can override any field (``noether scaling --spec my.yaml``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["FAMILIES", "PRESETS", "Chain", "Point", "SweepSpec", "load_spec", "plan"]

FAMILIES = {
    "gatr": {"model": "rigid-gatr", "augment": False, "label": "GATr (E(3)-equivariant)"},
    "transformer": {"model": "rigid-transformer", "augment": False, "label": "Transformer"},
    "transformer-aug": {
        "model": "rigid-transformer",
        "augment": True,
        "label": "Transformer + E(3) augmentation",
    },
}
"""The model families: a registered model and whether the training data are augmented."""

_ARCH = {"rigid-gatr": "gatr", "rigid-transformer": "transformer"}


@dataclass
class SweepSpec:
    """A sweep (see the module docstring). Sizes are model keyword arguments by name."""

    families: list[str] = field(default_factory=lambda: list(FAMILIES))
    gatr_sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    transformer_sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    grid_scenes: int = 1600
    data_scenes: list[int] = field(default_factory=list)
    data_size: str = "m"
    data_steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 50
    val_scenes: int = 50
    test_scenes: int = 100
    evaluations: int = 8
    """Validations per chain (spread over its epochs): the data-efficiency curves."""
    seed: int = 0
    data_seed: int = 0
    precision: str = "32"
    """``trainer.precision`` of every run (``auto``: bf16-mixed on GPUs that support it)."""

    def sizes(self, family: str) -> dict[str, dict[str, Any]]:
        return (
            self.gatr_sizes
            if _ARCH[FAMILIES[family]["model"]] == "gatr"
            else self.transformer_sizes
        )

    @property
    def n_scenes(self) -> int:
        """Scenes the data set needs: test, validation and the largest training set."""
        return self.test_scenes + self.val_scenes + max([self.grid_scenes, *self.data_scenes])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> SweepSpec:
        """Raise ``ValueError`` naming the field for anything a sweep cannot run; returns self."""
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown or not self.families:
            raise ValueError(
                f"families: unknown or empty {unknown or self.families}; accepted: "
                f"{', '.join(FAMILIES)}"
            )
        for name in ("steps", "data_scenes"):
            values = getattr(self, name)
            if len(values) < 2 or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(
                    f"{name}: got {values}; accepted: at least two positive integers (a power "
                    f"law needs two points; the study uses four or more)"
                )
        for arch, sizes in (("gatr", self.gatr_sizes), ("transformer", self.transformer_sizes)):
            used = any(_ARCH[FAMILIES[f]["model"]] == arch for f in self.families)
            if used and len(sizes) < 2:
                raise ValueError(
                    f"{arch}_sizes: got {len(sizes)} size(s); accepted: at least two named sizes "
                    f"of model keyword arguments"
                )
            if used and self.data_size not in sizes:
                raise ValueError(
                    f"data_size: {self.data_size!r} is not one of the {arch} sizes "
                    f"{', '.join(sizes)}"
                )
        for name in ("grid_scenes", "batch_size", "val_scenes", "test_scenes", "evaluations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}; accepted: a positive integer")
        if self.data_steps is not None and self.data_steps < 1:
            raise ValueError(f"data_steps: got {self.data_steps}; accepted: a positive integer")
        if self.precision not in ("auto", "32", "64", "bf16-mixed", "16-mixed"):
            raise ValueError(
                f"precision: got {self.precision!r}; accepted: auto, 32, 64, bf16-mixed, 16-mixed"
            )
        if not self.lr > 0 or self.warmup_steps < 0:
            raise ValueError(
                f"lr must be > 0 and warmup_steps >= 0, got {self.lr}, {self.warmup_steps}"
            )
        return self


PRESETS: dict[str, dict[str, Any]] = {
    "small": {
        "gatr_sizes": {
            "xs": {"mv_channels": 4, "s_channels": 8, "blocks": 1, "heads": 2},
            "s": {"mv_channels": 8, "s_channels": 16, "blocks": 1, "heads": 4},
            "m": {"mv_channels": 8, "s_channels": 16, "blocks": 2, "heads": 4},
            "l": {"mv_channels": 12, "s_channels": 24, "blocks": 3, "heads": 4},
        },
        "transformer_sizes": {
            "xs": {"channels": 16, "blocks": 1, "heads": 2},
            "s": {"channels": 32, "blocks": 1, "heads": 4},
            "m": {"channels": 64, "blocks": 2, "heads": 4},
            "l": {"channels": 96, "blocks": 3, "heads": 4},
        },
        "steps": [100, 200, 400, 800],
        "grid_scenes": 1600,
        "data_scenes": [25, 100, 400, 1600],
        "data_size": "m",
    },
    "large": {
        "gatr_sizes": {
            "xs": {"mv_channels": 8, "s_channels": 16, "blocks": 2, "heads": 4},
            "s": {"mv_channels": 16, "s_channels": 32, "blocks": 4, "heads": 8},
            "m": {"mv_channels": 32, "s_channels": 64, "blocks": 6, "heads": 8},
            "l": {"mv_channels": 48, "s_channels": 96, "blocks": 8, "heads": 8},
            "xl": {"mv_channels": 64, "s_channels": 128, "blocks": 12, "heads": 8},
        },
        "transformer_sizes": {
            "xs": {"channels": 64, "blocks": 2, "heads": 4},
            "s": {"channels": 128, "blocks": 4, "heads": 8},
            "m": {"channels": 256, "blocks": 6, "heads": 8},
            "l": {"channels": 384, "blocks": 8, "heads": 8},
            "xl": {"channels": 512, "blocks": 12, "heads": 8},
        },
        "steps": [2000, 5000, 10000, 20000, 50000],
        "grid_scenes": 100000,
        "data_scenes": [300, 1000, 3000, 10000, 30000, 100000],
        "data_size": "m",
        "batch_size": 64,
        "lr": 5e-4,
        "warmup_steps": 500,
        "val_scenes": 1000,
        "test_scenes": 2000,
        "precision": "auto",
    },
}


def load_spec(scale: str = "small", path: str | Path | None = None, **overrides: Any) -> SweepSpec:
    """The preset ``scale``, updated by the YAML file ``path`` and ``overrides``, validated."""
    if scale not in PRESETS:
        raise ValueError(f"scale: unknown {scale!r}; accepted: {', '.join(PRESETS)}")
    values = dict(PRESETS[scale])
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a sweep spec must be a mapping of fields")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    names = {f.name for f in dataclasses.fields(SweepSpec)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown sweep field(s) {unknown}; accepted: {', '.join(sorted(names))}")
    return SweepSpec(**values).validate()


@dataclass(frozen=True)
class Point:
    """One training run of the sweep."""

    family: str
    size: str
    steps: int
    scenes: int

    @property
    def name(self) -> str:
        return f"{self.family}-{self.size}-n{self.scenes}-s{self.steps}"


@dataclass(frozen=True)
class Chain:
    """Points of one family, size and data set, by increasing steps: trained as one run."""

    family: str
    size: str
    scenes: int
    steps: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.family}-{self.size}-n{self.scenes}"

    @property
    def points(self) -> list[Point]:
        return [Point(self.family, self.size, s, self.scenes) for s in self.steps]


def plan(spec: SweepSpec) -> list[Chain]:
    """Every chain of the sweep (each point once), grid first."""
    wanted: dict[tuple[str, str, int], set[int]] = {}
    data_steps = spec.data_steps or max(spec.steps)
    for family in spec.families:
        for size in spec.sizes(family):
            wanted.setdefault((family, size, spec.grid_scenes), set()).update(spec.steps)
        for scenes in spec.data_scenes:
            wanted.setdefault((family, spec.data_size, scenes), set()).add(data_steps)
    return [Chain(f, size, n, tuple(sorted(s))) for (f, size, n), s in wanted.items()]
