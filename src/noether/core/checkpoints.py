"""Checkpoint files of a run folder, read and written without Lightning.

A run folder (written by :mod:`noether.train`) holds ``checkpoints/last.ckpt`` (to resume) and
``checkpoints/best.ckpt`` (to evaluate); each is a ``torch.save`` of Lightning's dictionary with
the run's resolved config under ``"noether"``. This module finds, reads and writes those files and
rebuilds a trained model from one, importing only torch and the bottom layer, so every family (the
ASE calculator, say) loads a trained model without the trainer or the task's data. A damaged file
is one :class:`CorruptCheckpointError` naming it and saying what to do; a full disk while saving is
an ``OSError`` naming the file, with the previous file left as it was.
"""

from __future__ import annotations

import errno
import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from noether.core import registry
from noether.core.io import atomic_write
from noether.core.validation import ConfigError, check_mapping, check_value, signature_fields

LAST, BEST = "last.ckpt", "best.ckpt"
CHECKPOINT_KEY = "noether"
"""The section of a checkpoint that holds the run's config, position and random state."""
PREFIX = "model."
"""The prefix of the model's weights in a checkpoint's ``state_dict`` (Lightning's module holds
the model as ``.model``)."""
FLOAT64_PRECISIONS = ("64", "64-true", "double")

__all__ = [
    "BEST",
    "CHECKPOINT_KEY",
    "FLOAT64_PRECISIONS",
    "LAST",
    "PREFIX",
    "CorruptCheckpointError",
    "build_model",
    "find_checkpoint",
    "load_checkpoint",
    "load_trained_model",
    "model_of",
    "read_checkpoint",
    "save_checkpoint",
]


class CorruptCheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, empty, or not a checkpoint at all."""


def _os_error(error: BaseException) -> OSError | None:
    """The first ``OSError`` in an exception's chain (``torch.save`` reports a failed write as
    ``RuntimeError: unexpected pos ...`` whose context is the writer's ``OSError``)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _write_error(code: int | None, message: str) -> OSError:
    """An ``OSError`` with ``errno`` ``code`` whose text is ``message`` alone (``OSError(code,
    message, path)`` would print ``[Errno ...]`` before it and the file twice)."""
    error = OSError(message)
    error.errno = code
    return error


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` through a temporary file moved onto ``path``: a failed write (a full
    disk, say) leaves the previous file as it was and raises an ``OSError`` naming ``path``."""
    path = Path(path)
    try:
        return atomic_write(path, lambda file: torch.save(checkpoint, file))
    except (OSError, RuntimeError) as error:
        cause = _os_error(error)
        keep = f"the previous {path.name} is unchanged" if path.exists() else "nothing was saved"
        if cause is not None and cause.errno == errno.ENOSPC:
            raise _write_error(
                errno.ENOSPC,
                f"{path}: no space left on device while saving the checkpoint ({keep}); free "
                f"space on that disk (or move the run folder) and resume with --resume",
            ) from None
        if cause is not None:
            raise _write_error(
                cause.errno,
                f"{path}: cannot save the checkpoint: {cause.strerror or cause} ({keep})",
            ) from None
        if isinstance(error, RuntimeError) and "unexpected pos" in str(error):
            raise _write_error(
                errno.EIO,
                f"{path}: the checkpoint was written incompletely (a full disk?) ({keep})",
            ) from None
        raise


def find_checkpoint(path: str | Path, prefer: str = BEST) -> Path:
    """The checkpoint file of a run folder (``prefer``, else the other) or the file itself."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"{str(path)!r} is neither a run folder nor a checkpoint file")
    folder = path / "checkpoints"
    for name in (prefer, LAST if prefer == BEST else BEST):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{str(path)!r} holds no checkpoint (looked for {folder}/{{best,last}}.ckpt)"
    )


def _damage(path: Path) -> str:
    """What is wrong with a file ``torch.load`` cannot read: empty, truncated or foreign."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (truncated: the write that made it did not finish)"
    with open(path, "rb") as file:
        head = file.read(4)
        file.seek(max(0, size - (1 << 16) - 22))
        tail = file.read()
    if head == b"PK\x03\x04" and b"PK\x05\x06" not in tail:
        return f"is truncated ({size} bytes, the end of its zip archive is missing)"
    return "is damaged or not a checkpoint"


def _advice(path: Path) -> str:
    """What to do about a damaged checkpoint: use the run's other one, or train again."""
    if path.name == LAST:
        best = path.parent / BEST
        also = f"; its best model so far is in {best} (noether evaluate uses it)"
        return (
            f"a run cannot resume from a damaged {LAST}: train it again"
            f"{also if best.is_file() else ''}"
        )
    if path.name == BEST:
        last = path.parent / LAST
        if last.is_file():
            return f"the latest weights are in {last} (noether evaluate --checkpoint last)"
        return "train the run again"
    return "give a whole checkpoint file (a run's checkpoints/last.ckpt or best.ckpt)"


def read_checkpoint(
    path: str | Path, map_location: Any = "cpu", weights_only: bool | None = False, **options: Any
) -> Any:
    """``torch.load`` of a checkpoint file; a file that cannot be read raises
    :class:`CorruptCheckpointError` (a ``ValueError``) naming it, what is wrong and what to do.
    ``options``: further arguments of ``torch.load`` (``mmap=True``)."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only, **options)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception as error:
        raise CorruptCheckpointError(
            f"{path}: cannot read the checkpoint: the file {_damage(path)} "
            f"({type(error).__name__}: {error}); {_advice(path)}"
        ) from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by noether (it holds the run's config under ``"noether"``).

    Raises :class:`CorruptCheckpointError` (a ``ValueError``) naming the file when it is
    truncated, empty, damaged or not a noether checkpoint."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint:
        raise CorruptCheckpointError(
            f"{path}: not a noether checkpoint (no 'noether' section with the config); "
            f"{_advice(path)}"
        )
    return checkpoint


def build_model(section: Mapping[str, Any], imports: Sequence[str] = ()) -> nn.Module:
    """The model of a resolved config's ``model:`` section (a checkpoint's), alone: validated
    against the registered class's config or signature, without its task or the task's data.

    Raises:
        ConfigError: unknown model name, unknown key, a value of the wrong type.
    """
    for i, module in enumerate(check_value("imports", list(imports or []), list[str])):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"imports[{i}]: cannot import {module!r}: {error}") from None
    if not isinstance(section, Mapping) or "name" not in section:
        raise ConfigError("missing key model.name: the registered model to use")
    name = check_value("model.name", section["name"], str)
    try:
        target = registry.lookup("model", name)
    except KeyError as error:
        raise ConfigError(f"model.name: {error.args[0]}") from None
    fields, open_ended = signature_fields(target)
    options = {k: v for k, v in section.items() if k != "name"}
    options = check_mapping("model", options, fields, open_ended=open_ended)
    try:
        return target(**options)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model {name!r}: {error}") from error


def model_of(checkpoint: Mapping[str, Any]) -> nn.Module:
    """The trained model a loaded checkpoint holds: rebuilt from its config's ``model:`` section,
    in float64 when the run trained in float64, with the checkpoint's weights, in eval mode."""
    config = checkpoint[CHECKPOINT_KEY]["config"]
    model = build_model(config["model"], config.get("imports") or ())
    if str((config.get("trainer") or {}).get("precision", "auto")) in FLOAT64_PRECISIONS:
        model = model.double()
    state = {
        k[len(PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIX)
    }
    model.load_state_dict(state)
    return model.eval()


def load_trained_model(
    path: str | Path, prefer: str = BEST, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """The model of a run folder (``prefer``, else the other checkpoint) or of one ``.ckpt``
    file, on ``map_location``, in eval mode; with EMA the checkpoint holds the averaged weights.
    Needs only the folder or file: neither the task's data nor Lightning."""
    return model_of(load_checkpoint(find_checkpoint(path, prefer=prefer))).to(map_location)
