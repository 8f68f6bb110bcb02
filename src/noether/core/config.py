"""Configuration as values: a model's or task's options are one dataclass.

The convention every configurable class of noether follows::

    @dataclass(frozen=True)
    class GATrConfig:
        blocks: int = 4
        ...

    @register_model("gatr")
    class GATr(nn.Module):
        def __init__(self, config: GATrConfig | None = None, /, **options: Any):
            self.config = make_config(GATrConfig, config, options)

so ``GATr(GATrConfig(blocks=2))``, ``GATr(blocks=2)`` and the YAML section ``model: {name:
gatr, blocks: 2}`` build the same model, and :func:`config_fields` (which the training stack's
validator and the commands' option builders use) reads the dataclass, not a long signature.
The options of a trained model are stored in its checkpoint as :func:`config_dict` (plain
YAML-able values under the field names), so checkpoints written before a class took a config
load unchanged: the names are the old keyword arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

C = TypeVar("C")

__all__ = ["config_class", "config_dict", "config_repr", "make_config"]


def make_config(
    cls: type[C], config: C | Mapping[str, Any] | None, options: Mapping[str, Any]
) -> C:
    """The config a constructor was given: ``config`` (an instance, an instance of a base
    dataclass of ``cls``, or a mapping of its fields), with ``options`` replacing single fields. Unknown names raise ``TypeError`` naming them and
    the accepted ones, as a keyword argument of a plain constructor would."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, cls):
        base = {f.name: getattr(config, f.name) for f in dataclasses.fields(cls)}
    elif dataclasses.is_dataclass(config) and issubclass(cls, type(config)):
        # a base config (the architecture alone) extended by ``cls``'s own fields
        base = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    elif isinstance(config, Mapping):
        base = dict(config)
    else:
        raise TypeError(
            f"{cls.__name__}: expected a {cls.__name__}, a mapping of its fields or nothing, "
            f"got {type(config).__name__}"
        )
    base.update(options)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(base) - names)
    if unknown:
        raise TypeError(
            f"{cls.__name__}: unknown option(s) {', '.join(unknown)}; accepted: "
            f"{', '.join(sorted(names))}"
        )
    return cls(**base)


def config_class(target: Callable) -> type | None:
    """The config dataclass a class's constructor takes as its first argument (annotated
    ``config: SomeConfig | None``), or None for a plain keyword constructor."""
    init = target.__init__ if inspect.isclass(target) else target
    try:
        params = list(inspect.signature(init).parameters.values())
    except (TypeError, ValueError):
        return None
    if inspect.isclass(target):
        params = params[1:]  # self
    if not params or params[0].name != "config":
        return None
    try:
        hint = typing.get_type_hints(init).get("config")
    except Exception:
        return None
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def config_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a mapping of plain values (nested dataclasses as mappings)."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_repr(config: Any) -> str:
    """``"num_blocks=2, num_heads=4"``: the fields that differ from their defaults (a module's
    ``extra_repr``)."""
    parts = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        if default is dataclasses.MISSING or not _same(value, default):
            parts.append(f"{f.name}={value!r}")
    return ", ".join(parts)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:
        return False


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_dict(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
