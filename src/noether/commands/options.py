"""Command-line options built from a config dataclass, and the dataclass built back from them.

A command declares which dataclass its options set and reads the instance back::

    def add_arguments(parser):
        add_options(parser, NBodyConfig, flags={"n_planets": "--planets"})

    def main(args):
        config = config_from_args(args, NBodyConfig)

Each field becomes one option (see docs/commands.md):

- the name: ``n_bodies`` -> ``--n-bodies`` unless ``flags`` names it otherwise;
- the type from the hint: ``int``, ``float``, ``str``, ``Path``; ``Literal[...]`` (or a
  ``choices`` entry) -> a choice; ``bool`` -> ``--x/--no-x``; ``tuple[T, ...]`` and ``list[T]``
  -> one or more values, each of which may be comma-separated (``--sizes 100,1000`` or
  ``--sizes 100 1000``); ``tuple[T, T, T]`` -> exactly three values; ``T | None`` -> ``T``;
- the help: ``field(metadata={"help": ...})``, else the class docstring's ``Attributes:`` entry,
  else the string literal under the field; always followed by ``(default: VALUE)``;
- the default: the field's, or ``defaults[name]``. With ``overrides=True`` the option is unset
  (``None``) unless given, so a preset can supply the value (``noether study algebras``); the
  help then shows ``defaults[name]``, the value of the default preset.

A value argparse cannot convert is an error naming the option, the value and what is accepted;
so is a value the dataclass refuses (its ``__post_init__``): ``config_from_args`` calls
``parser.error`` (exit status 2) with the options whose fields the message names.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import re
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

C = TypeVar("C")

__all__ = [
    "CommonOptions",
    "add_common_options",
    "add_deprecated_alias",
    "add_options",
    "attribute_docs",
    "config_from_args",
    "fail",
    "flag_of",
    "option_values",
    "refuse_overwrite",
]

_REGISTRY = "_config_options"  # namespace attribute: {class: {field: flag}}
_PARSER = "_config_parser"  # namespace attribute: the parser that reports errors
_OVERRIDES = "_config_overrides"  # namespace attribute: classes whose options default to unset


def flag_of(name: str) -> str:
    """The option of a field: ``n_bodies`` -> ``--n-bodies``."""
    return "--" + name.replace("_", "-")


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    flags: Mapping[str, str] | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    choices: Mapping[str, Iterable[Any]] | None = None,
    help: Mapping[str, str] | None = None,
    overrides: bool = False,
) -> None:
    """Add one option per field of the dataclass ``cls`` to ``parser``.

    ``flags`` renames options (``{"n_planets": "--planets"}``); ``include`` / ``exclude`` pick
    fields (``include`` also sets the order); ``defaults`` replaces field defaults; ``choices``
    restricts values of fields typed ``str``; ``help`` replaces the documented help.
    ``overrides=True``: options default to unset (see the module docstring)."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"add_options needs a dataclass, got {cls!r}")
    flags, defaults, choices, help = flags or {}, defaults or {}, choices or {}, help or {}
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    names = list(include) if include is not None else list(fields)
    unknown = sorted((set(names) | set(exclude) | set(flags) | set(defaults)) - set(fields))
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    registry: dict[type, dict[str, str]] = dict(parser.get_default(_REGISTRY) or {})
    chosen: dict[str, str] = {}
    for name in names:
        if name in exclude:
            continue
        field = fields[name]
        flag = flags.get(name, flag_of(name))
        default = defaults[name] if name in defaults else _field_default(field)
        if default is dataclasses.MISSING:
            raise ValueError(
                f"{cls.__name__}.{name} has no default; pass defaults={{{name!r}: ...}}"
            )
        text = help.get(name) or field.metadata.get("help") or docs.get(name, "")
        text = re.sub(r"``(.*?)``", r"\1", text).strip().removesuffix(".")
        text = f"{text} (default: {_show(default)})" if text else f"(default: {_show(default)})"
        kwargs = _argparse_kwargs(hints[name], choices.get(name), flag)
        kwargs.setdefault("metavar", _metavar(hints[name], flag))
        kwargs["default"] = None if overrides else default
        parser.add_argument(flag, dest=name, help=text.replace("%", "%%"), **kwargs)
        chosen[name] = flag
    registry[cls] = chosen
    overridden = set(parser.get_default(_OVERRIDES) or ())
    if overrides:
        overridden.add(cls)
    parser.set_defaults(**{_REGISTRY: registry, _PARSER: parser, _OVERRIDES: overridden})


@dataclasses.dataclass(frozen=True)
class CommonOptions:
    """The options every command that writes output or shows progress shares.

    Attributes:
        overwrite: replace output that is already there; without it a command refuses (exit 2)
            before it computes or writes anything.
        progress: show progress: a bar on a terminal, plain lines (step 500/2000 (25%) 12.3 s)
            when stderr is not a terminal.
    """

    overwrite: bool = False
    progress: bool = True


def add_common_options(
    parser: argparse.ArgumentParser, *, overwrite: bool = True, progress: bool = True
) -> None:
    """Add ``--overwrite`` and/or ``--progress/--no-progress`` (:class:`CommonOptions`); read
    them back as ``args.overwrite`` and ``args.progress``."""
    names = [n for n, wanted in (("overwrite", overwrite), ("progress", progress)) if wanted]
    add_options(parser, CommonOptions, include=names)


def refuse_overwrite(args: argparse.Namespace, *paths: str | Path) -> None:
    """A command-line error (exit 2, nothing written) if any of ``paths`` exists (a folder only
    when it is not empty) and ``--overwrite`` was not given."""
    if getattr(args, "overwrite", False):
        return
    there = [
        str(p) for p in map(Path, paths) if p.exists() and not (p.is_dir() and not any(p.iterdir()))
    ]
    if there:
        fail(args, f"{', '.join(there)} already exists; pass --overwrite to replace it")


def add_deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Keep ``old`` working as a hidden spelling of the option ``new`` (added before): it sets
    the same value and prints one deprecation line to stderr."""
    action = parser._option_string_actions[new]
    parser.add_argument(
        old,
        dest=action.dest,
        type=action.type,
        nargs=action.nargs,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
        action=_Deprecated,
        new=new,
    )


class _Deprecated(argparse.Action):
    """An old spelling of an option: sets its value and says which spelling to use."""

    def __init__(self, option_strings, dest, new=None, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"{parser.prog}: warning: {option_string} is deprecated; use {self.new}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def option_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The field values the options of ``cls`` hold in ``args`` (of options added with
    ``overrides=True``, only those given)."""
    registry = getattr(args, _REGISTRY, None) or {}
    if cls not in registry:
        raise KeyError(f"no options of {cls.__name__} were added to this command's parser")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, flag in registry[cls].items():
        value = getattr(args, name)
        if value is None and cls in getattr(args, _OVERRIDES, ()):
            continue
        values[name] = _finish(args, hints[name], flag, value)
    return values


def config_from_args(
    args: argparse.Namespace,
    cls: type[C],
    *,
    build: Callable[..., C] | None = None,
    **fields: Any,
) -> C:
    """The instance of ``cls`` the options in ``args`` describe, with ``fields`` set by the
    command itself. ``build(**values)`` makes it (default: ``cls``), e.g. a preset function.
    A value the class refuses (``ValueError`` / ``TypeError``) is a command-line error that
    names the options involved (``parser.error``, exit status 2)."""
    values = {**option_values(args, cls), **fields}
    try:
        return (build or cls)(**values)
    except (ValueError, TypeError) as error:
        flags = getattr(args, _REGISTRY, {}).get(cls, {})
        message = str(error)
        named = [n for n in flags if n in values and re.search(rf"\b{re.escape(n)}\b", message)]
        given = ", ".join(f"{flags[n]} {_show(values[n])}" for n in named)
        fail(args, f"{given}: {message}" if given else message)


def fail(args: argparse.Namespace, message: str) -> typing.NoReturn:
    """Report a command-line error through the command's parser (usage, message, exit 2)."""
    parser = getattr(args, _PARSER, None)
    if parser is not None:
        parser.error(message)
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def attribute_docs(cls: type, section: str = "Attributes:") -> dict[str, str]:
    """Field documentation of a class: its docstring's ``Attributes:`` section (or another
    ``section``, e.g. ``"Args:"``: ``name: text`` or ``a, b: text``, continued on more-indented
    lines), and string literals under fields."""
    docs: dict[str, str] = {}
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    inside, current, indent = False, [], 0
    for line in lines:
        if line.strip() == section:
            inside = True
            continue
        if not inside:
            continue
        if line.strip() and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^(\s+)([\w, ]+?):\s+(.*)$", line)
        if match and (not current or len(match.group(1)) <= indent):
            indent = len(match.group(1))
            current = [n.strip() for n in match.group(2).split(",")]
            for name in current:
                docs[name] = match.group(3).strip()
        elif current and line.strip():
            for name in current:
                docs[name] += " " + line.strip()
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return docs
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for first, second in itertools.pairwise(body):
        if (
            isinstance(first, ast.AnnAssign)
            and isinstance(first.target, ast.Name)
            and isinstance(second, ast.Expr)
            and isinstance(second.value, ast.Constant)
            and isinstance(second.value.value, str)
        ):
            docs.setdefault(first.target.id, " ".join(second.value.value.split()))
    return docs


# ---------------------------------------------------------------------------------------------


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _show(value: Any) -> str:
    """A default as the command line writes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(_show(v) for v in value)
    return str(value)


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


_NAMES = {int: "an integer", float: "a number", str: "a string", Path: "a path"}


def _converter(kind: Any, choices: tuple | None) -> Callable[[str], Any]:
    """A function of one command-line word that raises ``ArgumentTypeError`` saying what is
    accepted (argparse adds the option's name)."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {_NAMES.get(kind, kind.__name__)}, got {text!r}"
            ) from None
        if choices is not None and value not in choices:
            raise argparse.ArgumentTypeError(
                f"invalid choice {text!r}; accepted: {', '.join(map(str, choices))}"
            )
        return value

    convert.__name__ = getattr(kind, "__name__", "value")
    return convert


def _split(convert: Callable[[str], Any]) -> Callable[[str], tuple]:
    """A converter of a comma-separated word into a tuple (``300,500`` -> ``(300.0, 500.0)``)."""

    def split(text: str) -> tuple:
        return tuple(convert(v.strip()) for v in text.split(",") if v.strip())

    return split


def _scalar(hint: Any, choices: Iterable[Any] | None) -> tuple[Any, tuple | None]:
    """The Python type of a scalar hint and its allowed values (Literal or ``choices``)."""
    if typing.get_origin(hint) is Literal:
        values = typing.get_args(hint)
        return type(values[0]), tuple(values)
    if hint in (int, float, str, Path):
        return hint, None if choices is None else tuple(choices)
    raise TypeError(f"no command-line option for a field typed {hint!r}")


def _argparse_kwargs(hint: Any, choices: Iterable[Any] | None, flag: str) -> dict[str, Any]:
    hint = _strip_optional(hint)
    if hint is bool:
        return {"action": _Switch, "nargs": 0, "negation": _negation(flag), "metavar": None}
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        items = typing.get_args(hint) or (str, ...)
        kind, allowed = _scalar(items[0], choices)
        convert = _split(_converter(kind, allowed))
        if origin is list or (len(items) == 2 and items[1] is Ellipsis):
            return {"nargs": "+", "type": convert, "action": _Extend}
        if any(i != items[0] for i in items):
            raise TypeError(f"no command-line option for a mixed tuple {hint!r}")
        return {"nargs": "+", "type": convert, "action": _Extend, "length": len(items)}
    kind, allowed = _scalar(hint, choices)
    kwargs: dict[str, Any] = {"type": _converter(kind, allowed)}
    if allowed is not None:
        kwargs["metavar"] = "{" + ",".join(map(str, allowed)) + "}"
    return kwargs


def _metavar(hint: Any, flag: str) -> str:
    """``N`` for integers, ``X`` for numbers, else the option's name in capitals."""
    hint = _strip_optional(hint)
    if typing.get_origin(hint) in (tuple, list):
        hint = (typing.get_args(hint) or (str,))[0]
    return {int: "N", float: "X"}.get(hint, flag.removeprefix("--").replace("-", "_").upper())


def _negation(flag: str) -> str:
    return "--no-" + flag[2:].removeprefix("no-") if flag.startswith("--") else flag


class _Switch(argparse.Action):
    """``--x`` sets True, ``--no-x`` sets False (one line of help for both)."""

    def __init__(self, option_strings, dest, negation=None, **kwargs):
        super().__init__([*option_strings, negation], dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, not option_string.startswith("--no-"))

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


class _Extend(argparse.Action):
    """One or more words, each a comma-separated list: their values in order, as a tuple
    (of exactly ``length`` values for a fixed-length tuple)."""

    def __init__(self, option_strings, dest, length=None, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.length = length

    def __call__(self, parser, namespace, values, option_string=None):
        flat = tuple(v for word in values for v in word)
        if self.length is not None and len(flat) != self.length:
            raise argparse.ArgumentError(
                self, f"expected {self.length} values, got {len(flat)}: {_show(flat)}"
            )
        setattr(namespace, self.dest, flat)


def _finish(args: argparse.Namespace, hint: Any, flag: str, value: Any) -> Any:
    """A parsed value as the field takes it (a list field gets a list; a variable-length tuple
    must have at least one value)."""
    hint = _strip_optional(hint)
    if typing.get_origin(hint) is list and isinstance(value, tuple):
        value = list(value)
    if typing.get_origin(hint) in (tuple, list) and value is not None and len(value) == 0:
        fail(args, f"argument {flag}: expected at least one value")
    return value
