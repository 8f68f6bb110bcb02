"""Check config values against type hints; every error names the key and what it accepts.

Works from a dataclass (the stack's own sections, a model's config) or from a constructor
signature (registered models and tasks), so one set of rules covers every section of a config.
A config dataclass also goes to and from YAML here: :func:`read_config` (a file or a mapping,
checked key by key) and :func:`config_yaml` / :func:`write_config` (the flat
:func:`~noether.core.config.config_dict`, dtypes as names), so a written config reads back equal.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml

from noether.core.config import config_class, config_dict
from noether.core.io import atomic_write_text
from noether.core.task import MustExist

C = typing.TypeVar("C")

__all__ = [
    "ConfigError",
    "Field",
    "check_mapping",
    "check_value",
    "config_yaml",
    "dataclass_fields",
    "describe",
    "read_config",
    "read_yaml",
    "signature_fields",
    "write_config",
]


class ConfigError(ValueError):
    """A config that cannot start a run: unknown key, wrong type or value, missing file."""


_REQUIRED = object()


@dataclass(frozen=True)
class Field:
    """One accepted key: its type hint and default (``_REQUIRED`` if it has none)."""

    name: str
    annotation: Any
    default: Any = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def dataclass_fields(cls: type) -> list[Field]:
    """The fields of a dataclass with resolved type hints."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = _REQUIRED
        out.append(Field(f.name, hints.get(f.name, Any), default))
    return out


def signature_fields(obj: Callable) -> tuple[list[Field], bool]:
    """The keyword arguments of a class constructor or function, and whether it takes ``**kwargs``.

    A class that takes a config dataclass (:func:`noether.core.config.config_class`) is described
    by that dataclass's fields, and takes nothing else.
    """
    config = config_class(obj)
    if config is not None:
        return dataclass_fields(config), False
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable annotations: check keys, not types
        hints = {}
    out, open_ended = [], False
    for p in inspect.signature(obj).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            open_ended = True
            continue
        if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            continue
        default = _REQUIRED if p.default is p.empty else p.default
        out.append(Field(p.name, hints.get(p.name, Any), default))
    return out, open_ended


def describe(annotation: Any) -> str:
    """A reader's description of what a type hint accepts."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return "any value"
    if origin is Annotated:
        base = describe(args[0])
        if any(isinstance(a, MustExist) for a in args[1:]):
            return f"the path of an existing file or folder ({base})"
        return base
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        parts = [describe(a) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return text + " or null" if type(None) in args else text
    if origin in (list, tuple) or annotation in (list, tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} values ({', '.join(describe(a) for a in args)})"
        inner = describe(args[0]) if args else "any value"
        return f"a list of {inner}"
    if origin is dict or annotation is dict:
        return "a mapping"
    if _is_torch_dtype(annotation):
        return "a floating dtype name: " + ", ".join(_DTYPE_NAMES)
    if dataclasses.is_dataclass(annotation):
        return "a mapping with keys " + ", ".join(f.name for f in dataclasses.fields(annotation))
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        Path: "a path",
        type(None): "null",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


_DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16")


def _is_torch_dtype(annotation: Any) -> bool:
    return getattr(annotation, "__module__", None) == "torch" and annotation.__name__ == "dtype"


def _check_dtype(key: str, value: Any, annotation: Any) -> Any:
    """``torch.float64`` from ``"float64"`` (or ``"torch.float64"``, or a dtype itself)."""
    import torch

    if isinstance(value, torch.dtype) and str(value).removeprefix("torch.") in _DTYPE_NAMES:
        return value
    if isinstance(value, str) and value.removeprefix("torch.") in _DTYPE_NAMES:
        return getattr(torch, value.removeprefix("torch."))
    raise _fail(key, value, annotation)


def _fail(key: str, value: Any, annotation: Any, why: str = "") -> ConfigError:
    why = f" ({why})" if why else ""
    return ConfigError(f"{key}: got {value!r}{why}; accepted: {describe(annotation)}")


def check_value(key: str, value: Any, annotation: Any) -> Any:
    """``value`` converted to ``annotation`` where that is lossless, else a :class:`ConfigError`.

    Numbers written as strings (``1e-3``, which YAML reads as a string) are accepted for floats.
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    if origin is Annotated:
        checked = check_value(key, value, args[0])
        if any(isinstance(a, MustExist) for a in args[1:]) and checked is not None:
            if not Path(checked).expanduser().exists():
                raise ConfigError(
                    f"{key}: no such file or folder {str(checked)!r}; "
                    f"accepted: {describe(annotation)}"
                )
        return checked
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _fail(key, value, annotation)
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return check_value(key, value, option)
            except ConfigError as error:
                errors.append(error)
        # A single non-None option gives the more precise message (a missing path, say).
        if len(errors) == 1:
            raise errors[0]
        raise _fail(key, value, annotation)
    if origin is Literal:
        for choice in args:
            if value == choice and type(value) is type(choice):
                return choice
            if isinstance(choice, str) and isinstance(value, int | float) and str(value) == choice:
                return choice
        raise _fail(key, value, annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _fail(key, value, annotation)
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _fail(key, value, annotation)
    if annotation is float:
        if isinstance(value, bool):
            raise _fail(key, value, annotation)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise _fail(key, value, annotation) from None
            if math.isfinite(number) or value.strip().lower() in ("inf", "+inf", "-inf"):
                return number
        raise _fail(key, value, annotation)
    if annotation is str or annotation is Path:
        if isinstance(value, str):
            return value
        raise _fail(key, value, annotation)
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _fail(key, value, annotation)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _fail(key, value, annotation, f"{len(value)} values")
            items = [check_value(f"{key}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args))]
        else:
            inner = args[0] if args else Any
            items = [check_value(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise _fail(key, value, annotation)
        inner = args[1] if len(args) == 2 else Any
        return {k: check_value(f"{key}.{k}", v, inner) for k, v in value.items()}
    if dataclasses.is_dataclass(annotation):
        return check_mapping(key, value, dataclass_fields(annotation), cls=annotation)
    if _is_torch_dtype(annotation):
        return _check_dtype(key, value, annotation)
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise _fail(key, value, annotation)
    return value  # a hint this checker does not know: accept as is


def check_mapping(
    prefix: str,
    values: Any,
    fields: list[Field],
    *,
    cls: type | None = None,
    open_ended: bool = False,
    ignore: tuple[str, ...] = (),
) -> Any:
    """Validate a mapping against fields: unknown keys, missing required keys, each value's type.

    Returns ``cls(**checked)`` if ``cls`` is given, else a dict of every field (defaults filled in).
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix}: got {values!r}; accepted: a mapping of keys to values")
    by_name = {f.name: f for f in fields}
    accepted = ", ".join(by_name) or "(none)"
    unknown = [k for k in values if k not in ignore and k not in by_name]
    if unknown and not open_ended:  # before any value is checked (a data path, say)
        raise ConfigError(f"unknown key {prefix}.{unknown[0]}; accepted keys: {accepted}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in ignore:
            continue
        if key not in by_name:
            out[key] = value
            continue
        out[key] = check_value(f"{prefix}.{key}", value, by_name[key].annotation)
    for f in fields:
        if f.name in out:
            continue
        if f.required:
            raise ConfigError(f"missing key {prefix}.{f.name}: {describe(f.annotation)}")
        out[f.name] = f.default
    return cls(**out) if cls is not None else out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file, or a :class:`ConfigError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections, got {type(raw).__name__}")
    return raw


def read_config(
    cls: type[C], source: str | Path | Mapping[str, Any], *, section: str | None = None
) -> C:
    """The config dataclass ``cls`` from a YAML file or a mapping, every key checked.

    Args:
        source: a YAML file (its top-level mapping, or its ``section``) or a mapping of fields.
        section: read ``source[section]`` (``"model"`` for a training config's model section;
            its ``name`` key is ignored there).

    Raises:
        ConfigError: unknown key, missing required key or a wrong value; the message names the
            key (``model.num_blocks``), the value and what is accepted.
    """
    raw = dict(source) if isinstance(source, Mapping) else read_yaml(source)
    prefix = section or cls.__name__
    if section is not None:
        if section not in raw:
            raise ConfigError(f"missing section {section}: {describe(cls)}")
        raw = raw[section]
    ignore = ("name",) if section is not None else ()
    return check_mapping(prefix, raw, dataclass_fields(cls), cls=cls, ignore=ignore)


def _yaml_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _yaml_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_yaml_value(v) for v in value]
    if _is_torch_dtype(type(value)):  # torch.float64 -> "float64", read back by check_value
        return str(value).removeprefix("torch.")
    return value


def config_yaml(config: Any) -> str:
    """A config dataclass as YAML: its fields in order, flat, plain values."""
    return yaml.safe_dump(_yaml_value(config_dict(config)), sort_keys=False)


def write_config(config: Any, path: str | Path) -> Path:
    """Write :func:`config_yaml` to ``path`` atomically; :func:`read_config` reads it back."""
    return atomic_write_text(path, config_yaml(config))
