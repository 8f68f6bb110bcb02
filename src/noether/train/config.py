"""A run's configuration: typed sections read from YAML, overridden from the command line.

``load_config`` reads the file, applies ``--section.key=value`` overrides (they win), checks every
key, type and value, resolves the model and the task in the registry and checks their options
against their constructors; anything wrong raises :class:`ConfigError` before a run starts.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from noether.core import registry
from noether.core.errors import DataError
from noether.core.validation import (
    ConfigError,
    check_mapping,
    check_value,
    dataclass_fields,
    read_yaml,
    signature_fields,
)

__all__ = [
    "Component",
    "Config",
    "ConfigError",
    "DataConfig",
    "FinetuneConfig",
    "OptimConfig",
    "RunConfig",
    "ScheduleConfig",
    "TrainerConfig",
    "load_config",
    "model_component",
    "parse_overrides",
]


DEFAULT_SPLIT = (0.8, 0.1, 0.1)


@dataclass
class DataConfig:
    """How the task's data is batched and split."""

    batch_size: int = 32
    """Global batch size: samples per optimiser step over all processes (split evenly)."""
    eval_batch_size: int | None = None
    """Global batch size of validation and test; ``batch_size`` if null."""
    split: tuple[float, float, float] | None = None
    """Train, validation, test fractions of a task that returns one dataset; null:
    ``DEFAULT_SPLIT``. The saved config shows the fractions used, or null when the task splits
    its data itself (then fractions here are refused: they would have no effect)."""
    num_workers: int = 0
    """Data-loader worker processes per training process."""
    shuffle: bool = True
    """Reshuffle the training set every epoch (seeded: the order is a function of seed and epoch)."""


@dataclass
class OptimConfig:
    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    """SGD only."""
    clip_grad_norm: float | None = None
    """Clip the global gradient norm to this value; null for no clipping."""
    ema_decay: float | None = None
    """Keep an exponential moving average of the weights with this decay (e.g. 0.999);
    validation, best checkpoints and evaluation use the averaged weights."""


@dataclass
class ScheduleConfig:
    name: Literal["constant", "cosine", "plateau"] = "constant"
    warmup_steps: int = 0
    """Linear warm-up from 0 to ``optim.lr`` over this many optimiser steps."""
    min_lr_ratio: float = 0.0
    """Cosine: the final learning rate as a fraction of ``optim.lr``."""
    factor: float = 0.5
    """Plateau: multiply the learning rate by this when validation loss stalls."""
    patience: int = 10
    """Plateau: epochs without improvement of the validation loss before reducing."""
    min_lr: float = 0.0
    """Plateau: lower bound of the learning rate."""


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    max_steps: int = -1
    """Stop after this many optimiser steps (-1: no limit)."""
    precision: Literal["auto", "32", "64", "bf16-mixed", "16-mixed"] = "auto"
    """auto: bf16-mixed on GPUs that support it, else 32."""
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] = "auto"
    """Processes per node; auto: from torchrun or SLURM, else 1."""
    num_nodes: int | Literal["auto"] = "auto"
    """auto: from torchrun or SLURM, else 1."""
    checkpoint_every_n_steps: int = 0
    """Also write ``last.ckpt`` every n optimiser steps (0: at epoch ends only)."""
    val_every_n_epochs: int = 1
    log_every_n_steps: int = 1
    progress_bar: bool | Literal["auto"] = "auto"
    """auto: a progress bar in a terminal, one line per epoch otherwise."""
    deterministic: bool = False
    """Ask PyTorch for deterministic kernels (slower on GPU; CPU runs are deterministic anyway)."""
    tensorboard: bool = False
    """Also log to TensorBoard (``<run>/tensorboard``); needs the ``tensorboard`` package."""
    units: str | None = None
    """The per-epoch console lines in this unit (the atomistic task: meV, eV, kcal/mol, kJ/mol,
    forces per Å); null: the task's own. metrics.csv stays in the task's units."""


@dataclass
class RunConfig:
    dir: str | None = None
    """The run folder; null: ``<root>/<config name>-<time>`` (a job id under SLURM or torchrun)."""
    root: str = "runs"
    name: str | None = None
    """Name of the run folder under ``root``; null: the config file's name."""


@dataclass
class FinetuneConfig:
    """Start from the weights of a trained run (docs/training.md, "Fine-tuning")."""

    init_from: str | None = None
    """A run folder (its best.ckpt, else last.ckpt) or one of its .ckpt files whose weights start
    this run; null: the model's own initialisation. The model must be the same (name and every
    key but those the task sets from the data); the optimiser starts fresh. Read only when the
    run starts: a resumed run continues from its own checkpoint."""
    freeze: list[str] = field(default_factory=list)
    """Parameter-name prefixes kept fixed while training (``embedding``, ``layers.0``: a name
    or the part of one before a dot); an unknown prefix is refused with those that exist."""
    new_elements: Literal["mean", "init"] = "mean"
    """The atoms task: the embedding rows of elements the source run never trained on start as
    the mean of its trained elements' rows (``mean``) or as this run's own random initialisation
    (``init``)."""


@dataclass
class Component:
    """A model or task: its registered name and its constructor's keyword arguments."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    derived: tuple[str, ...] = field(default=(), compare=False)
    """The option names the task set from its data (``model_defaults``: reference energies and
    the standardisation of the atoms task); not written with the config."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **_plain(self.options)}


@dataclass
class Config:
    model: Component
    task: Component
    seed: int = 0
    imports: list[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    run: RunConfig = field(default_factory=RunConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    source: str | None = None
    """The YAML file the config was read from (not a key of the file)."""

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data, loadable again by :func:`load_config`."""
        out: dict[str, Any] = {"seed": self.seed}
        if self.imports:
            out["imports"] = list(self.imports)
        out["model"] = self.model.to_dict()
        out["task"] = self.task.to_dict()
        for name in ("data", "optim", "schedule", "trainer", "run", "finetune"):
            out[name] = _plain(asdict(getattr(self, name)))
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if type(value).__module__ == "torch" and type(value).__name__ == "dtype":
        return str(value).removeprefix("torch.")  # float64, read back by check_value
    return value


_SECTIONS = {
    "data": DataConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "trainer": TrainerConfig,
    "run": RunConfig,
    "finetune": FinetuneConfig,
}
_TOP_KEYS = ("seed", "imports", "model", "task", *_SECTIONS)


def parse_overrides(tokens: Sequence[str]) -> dict[str, Any]:
    """``["--optim.lr=3e-4", "--trainer.max_epochs", "5"]`` -> ``{"optim.lr": "3e-4", ...}``.

    Values are read as YAML scalars (``true``, ``null``, ``[0.8, 0.1, 0.1]``).
    """
    out: dict[str, Any] = {}
    items = list(tokens)
    i = 0
    while i < len(items):
        token = items[i]
        if not token.startswith("--") or len(token) <= 2:
            raise ConfigError(
                f"cannot read {token!r}; overrides look like --section.key=value "
                f"(for example --optim.lr=3e-4)"
            )
        body = token[2:]
        if "=" in body:
            key, raw = body.split("=", 1)
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            key, raw = body, items[i + 1]
            i += 1
        else:
            raise ConfigError(f"override {token!r} has no value; write --{body}=VALUE")
        try:
            out[key] = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            out[key] = raw
        i += 1
    return out


def _apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if parts[0] not in _TOP_KEYS:
            raise ConfigError(
                f"unknown key {dotted} in --{dotted}; accepted sections: {', '.join(_TOP_KEYS)}"
            )
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--{dotted}: {part} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return raw


def _component(kind: Literal["model", "task"], raw: Any, defaults: Mapping[str, Any]) -> Component:
    if not isinstance(raw, Mapping) or "name" not in raw:
        raise ConfigError(
            f"missing key {kind}.name: the registered {kind} to use; available: "
            f"{', '.join(registry.available(kind))}"
        )
    name = check_value(f"{kind}.name", raw["name"], str)
    try:
        target = registry.lookup(kind, name)
    except KeyError as error:
        raise ConfigError(f"{kind}.name: {error.args[0]}") from None
    fields, open_ended = signature_fields(target)
    accepted = {f.name for f in fields}
    merged = {k: v for k, v in defaults.items() if k in accepted}
    merged.update({k: v for k, v in _renamed(kind, target, raw).items() if k != "name"})
    options = check_mapping(kind, merged, fields, open_ended=open_ended)
    return Component(name, options)


def _renamed(kind: str, target: Any, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with the target's old keys (``key_aliases``, e.g. ``task.data``) under their
    current names (``task.path``); both at once is an error."""
    aliases = getattr(target, "key_aliases", None) or {}
    out = dict(raw)
    for old, new in aliases.items():
        if old in out:
            if new in out:
                raise ConfigError(
                    f"{kind}.{old} and {kind}.{new} are the same key ({old} is its old name); "
                    f"give only {kind}.{new}"
                )
            out[new] = out.pop(old)
    return out


def _current_task_keys(
    raw: dict[str, Any], overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The file's ``task:`` keys and the ``--task.<key>`` overrides under their current names
    (``key_aliases``), so ``--task.data=X`` on a config that says ``path:`` replaces it."""
    task = raw.get("task")
    name = overrides.get("task.name", task.get("name") if isinstance(task, Mapping) else None)
    try:
        aliases = getattr(registry.lookup("task", name), "key_aliases", {}) if name else {}
    except Exception:  # an unknown or unimportable task: _component reports it
        aliases = {}
    if not aliases:
        return raw, dict(overrides)
    if isinstance(task, Mapping):
        raw = {**raw, "task": _renamed("task", type("_", (), {"key_aliases": aliases}), task)}
    renamed = {}
    for key, value in overrides.items():
        section, _, field = key.partition(".")
        renamed[f"task.{aliases.get(field, field)}" if section == "task" else key] = value
    return raw, renamed


def _check_model_keys(raw: Any) -> None:
    """An unknown key of the ``model:`` section, reported before the task is built."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return  # _component reports it
    try:
        target = registry.lookup("model", raw["name"])
    except KeyError as error:
        raise ConfigError(f"model.name: {error.args[0]}") from None
    fields, open_ended = signature_fields(target)
    accepted = [f.name for f in fields]
    unknown = [k for k in raw if k != "name" and k not in accepted]
    if unknown and not open_ended:
        raise ConfigError(
            f"unknown key model.{unknown[0]}; accepted keys: {', '.join(accepted) or '(none)'}"
        )


def model_component(raw: Any, imports: Sequence[str] = ()) -> Component:
    """The validated ``model:`` section of a resolved config (a checkpoint's), alone.

    The task is not built, so a trained model is rebuilt without its task's data; the section of
    a resolved config already holds the task's ``model_defaults``.
    """
    import_modules(check_value("imports", list(imports or []), list[str]))
    return _component("model", raw, {})


def import_modules(modules: Sequence[str]) -> None:
    for i, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"imports[{i}]: cannot import {module!r}: {error}") from None


def load_config(
    source: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | Sequence[str] = (),
) -> Config:
    """Read, override and validate a config; see the module docstring.

    Args:
        source: a YAML file or an already-read mapping.
        overrides: ``{"optim.lr": 3e-4}`` or command-line tokens ``["--optim.lr=3e-4"]``.
    """
    if isinstance(source, Mapping):
        raw, origin = copy.deepcopy(dict(source)), None
    else:
        raw, origin = read_yaml(source), str(source)
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    raw, overrides = _current_task_keys(raw, overrides)
    raw = _apply_overrides(raw, overrides)
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError(f"unknown key {key}; accepted keys: {', '.join(_TOP_KEYS)}")
    seed = check_value("seed", raw.get("seed", 0), int)
    imports = check_value("imports", raw.get("imports") or [], list[str])
    import_modules(imports)
    sections = {
        name: check_mapping(name, raw.get(name), dataclass_fields(cls), cls=cls)
        for name, cls in _SECTIONS.items()
    }
    _check_model_keys(raw.get("model"))  # a typo is reported before the task reads its data
    task = _component("task", raw.get("task"), {})
    task_obj = build(task, "task")
    try:
        defaults = task_obj.model_defaults()  # reads the task's data
    except DataError as error:
        raise ConfigError(f"task {task.name!r}: {error}") from error
    model = _component("model", raw.get("model"), defaults)
    model.derived = tuple(k for k in defaults if k in model.options)
    config = Config(model=model, task=task, seed=seed, imports=imports, source=origin, **sections)
    check_consistency(config)
    return config


def build(component: Component, kind: Literal["model", "task"]) -> Any:
    """Instantiate a validated model or task; a constructor's ValueError becomes a ConfigError."""
    target = registry.lookup(kind, component.name)
    try:
        return target(**component.options)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{kind} {component.name!r}: {error}") from error


def check_consistency(config: Config) -> None:
    """Checks that involve more than one key."""
    data, trainer, optim, schedule = config.data, config.trainer, config.optim, config.schedule
    positive = {
        "data.batch_size": data.batch_size,
        "trainer.max_epochs": trainer.max_epochs,
        "trainer.val_every_n_epochs": trainer.val_every_n_epochs,
        "trainer.log_every_n_steps": trainer.log_every_n_steps,
    }
    if data.eval_batch_size is not None:
        positive["data.eval_batch_size"] = data.eval_batch_size
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}: got {value}; accepted: an integer >= 1")
    for key, value in {
        "data.num_workers": data.num_workers,
        "trainer.checkpoint_every_n_steps": trainer.checkpoint_every_n_steps,
        "schedule.warmup_steps": schedule.warmup_steps,
    }.items():
        if value < 0:
            raise ConfigError(f"{key}: got {value}; accepted: an integer >= 0")
    if trainer.max_steps < -1 or trainer.max_steps == 0:
        raise ConfigError(f"trainer.max_steps: got {trainer.max_steps}; accepted: -1 or >= 1")
    for key, value in (("devices", trainer.devices), ("num_nodes", trainer.num_nodes)):
        if value != "auto" and value < 1:
            raise ConfigError(f"trainer.{key}: got {value}; accepted: 'auto' or an integer >= 1")
    split = data.split
    if split is not None and (
        any(f < 0 for f in split) or abs(sum(split) - 1.0) > 1e-9 or split[0] <= 0
    ):
        raise ConfigError(
            f"data.split: got {list(split)}; accepted: three fractions >= 0 "
            f"(train > 0) that add up to 1"
        )
    if optim.lr <= 0:
        raise ConfigError(f"optim.lr: got {optim.lr}; accepted: a number > 0")
    if optim.clip_grad_norm is not None and optim.clip_grad_norm <= 0:
        raise ConfigError(
            f"optim.clip_grad_norm: got {optim.clip_grad_norm}; accepted: a number > 0 or null"
        )
    if optim.ema_decay is not None and not 0.0 < optim.ema_decay < 1.0:
        raise ConfigError(
            f"optim.ema_decay: got {optim.ema_decay}; accepted: 0 < decay < 1 or null"
        )
    if not 0.0 <= schedule.min_lr_ratio <= 1.0:
        raise ConfigError(
            f"schedule.min_lr_ratio: got {schedule.min_lr_ratio}; accepted: 0 <= ratio <= 1"
        )
    if not 0.0 < schedule.factor < 1.0:
        raise ConfigError(f"schedule.factor: got {schedule.factor}; accepted: 0 < factor < 1")
    if schedule.patience < 0:
        raise ConfigError(f"schedule.patience: got {schedule.patience}; accepted: an integer >= 0")
