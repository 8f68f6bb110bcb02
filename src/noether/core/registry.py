"""Models and tasks registered by name, found without a central list.

A model is any ``nn.Module`` class (or a function returning one) decorated with
:func:`register_model`; a task is a :class:`noether.core.task.Task` subclass decorated with
:func:`register_task`. The ``model:`` and ``task:`` sections of a config name them::

    @register_model("toy-mlp")
    class ToyMLP(nn.Module): ...

Lookup of a name that is not registered yet, in this order:

1. ``"package.module:Attribute"``: imported directly; needs no registration at all.
2. The source files of the ``noether`` package are scanned (text only, nothing imported) for
   ``register_model("name")`` / ``register_task("name")`` with a literal name; the one module
   that holds it is imported, which registers it.
3. Installed distributions' entry points in the groups ``noether.models`` / ``noether.tasks``
   (entry-point name = model or task name).

Modules listed under ``imports:`` in a config are imported before any lookup, for code outside
the package. This module imports nothing but the standard library, so any layer may use it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar

Kind = Literal["model", "task"]
T = TypeVar("T")

__all__ = [
    "available",
    "lookup",
    "register_model",
    "register_task",
]

_REGISTRY: dict[str, dict[str, Any]] = {"model": {}, "task": {}}
_PATTERN = re.compile(r"""register_(model|task)\(\s*["']([^"']+)["']\s*\)""")
_ENTRY_POINT_GROUPS = {"model": "noether.models", "task": "noether.tasks"}


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _register(kind: Kind, name: str) -> Callable[[T], T]:
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"a {kind} name must be a non-empty string without ':', got {name!r}")

    def decorator(obj: T) -> T:
        previous = _REGISTRY[kind].get(name)
        if previous is not None and _qualname(previous) != _qualname(obj):
            raise ValueError(
                f"{kind} name {name!r} is already registered by {_qualname(previous)}; "
                f"{_qualname(obj)} needs another name"
            )
        _REGISTRY[kind][name] = obj
        return obj

    return decorator


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make an ``nn.Module`` class (or factory function) buildable by ``name``.

    The keyword arguments of its constructor are the keys of the config's ``model:`` section;
    their type hints and defaults are what the config is validated against.
    """
    return _register("model", name)


def register_task(name: str) -> Callable[[T], T]:
    """Class decorator: make a :class:`~noether.core.task.Task` subclass buildable by ``name``.

    The keyword arguments of its constructor are the keys of the config's ``task:`` section.
    """
    return _register("task", name)


@dataclass(frozen=True)
class _Found:
    module: str
    path: Path


@cache
def _scan_package() -> dict[str, dict[str, list[_Found]]]:
    """Names registered anywhere in the noether source tree, by text search (no imports)."""
    root = Path(__file__).resolve().parents[1]  # .../noether
    found: dict[str, dict[str, list[_Found]]] = {"model": {}, "task": {}}
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "register_" not in text:
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module == __name__:
            continue
        for kind, name in _PATTERN.findall(text):
            found[kind].setdefault(name, []).append(_Found(module, path))
    return found


def _entry_points(kind: Kind) -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=_ENTRY_POINT_GROUPS[kind])}


def available(kind: Kind, *, package_only: bool = False) -> list[str]:
    """Every name of this kind that :func:`lookup` can resolve, registered or not yet imported;
    with ``package_only``, only those registered in noether's own source files."""
    if package_only:
        return sorted(_scan_package()[kind])
    names = set(_REGISTRY[kind]) | set(_scan_package()[kind]) | set(_entry_points(kind))
    return sorted(names)


def lookup(kind: Kind, name: str) -> Any:
    """The class or function registered as ``name``, importing its module if needed.

    Raises:
        KeyError: no such name; the message lists the available ones.
        ImportError: the module that registers it could not be imported (the cause is chained).
    """
    if kind not in _REGISTRY:
        raise ValueError(f"kind must be 'model' or 'task', got {kind!r}")
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise KeyError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if name in _REGISTRY[kind]:
        return _REGISTRY[kind][name]
    for found in _scan_package()[kind].get(name, []):
        importlib.import_module(found.module)
        if name in _REGISTRY[kind]:
            return _REGISTRY[kind][name]
    entry_point = _entry_points(kind).get(name)
    if entry_point is not None:
        obj = entry_point.load()
        _REGISTRY[kind].setdefault(name, obj)
        return _REGISTRY[kind][name]
    raise KeyError(
        f"unknown {kind} {name!r}; available: {', '.join(available(kind)) or '(none)'}; "
        f"or give 'package.module:Attribute'"
    )
