"""Save a :class:`Potential` to one file and rebuild it without knowing its class in advance.

The file (``torch.save``, read back with ``weights_only=True``) holds the class path, the
model's options, its dtype and its ``state_dict`` (weights, reference energies and
standardisation). It is written atomically. The options are ``config``, the plain fields of the
model's config dataclass (``model.config``), or, for a model without one (and in every file
written before configs existed), ``hparams``, the constructor arguments it recorded; both are
flat mappings of keyword arguments, so either rebuilds the model.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path

import torch

from noether import __version__
from noether.atoms.potential import Potential
from noether.core.io import atomic_path

__all__ = [
    "FORMAT",
    "load_potential",
    "potential_from_payload",
    "potential_payload",
    "save_potential",
]

FORMAT = "noether.potential"


def _dtype(value):
    if isinstance(value, str) and value.startswith("torch."):
        candidate = getattr(torch, value.removeprefix("torch."), None)
        if isinstance(candidate, torch.dtype):
            return candidate
    return value


def potential_payload(model: Potential, **metadata) -> dict:
    """What :func:`save_potential` writes, as a plain dict of values and CPU tensors (also what
    other files that carry a model, such as the LAMMPS ML-IAP object, pickle)."""
    if not isinstance(model, Potential):
        raise TypeError(f"save_potential needs a noether Potential, got {type(model).__name__}")
    cls = type(model)
    config = getattr(model, "config", None)
    options = (
        {"config": model.hparams}  # the config's fields as plain values
        if dataclasses.is_dataclass(config) and not isinstance(config, type)
        else {"hparams": model.hparams}
    )
    return {
        "format": FORMAT,
        "version": 1,
        "noether": __version__,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        **options,
        "dtype": str(model.dtype),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": metadata,
    }


def save_potential(path: str | os.PathLike, model: Potential, **metadata) -> Path:
    """Write ``model`` (any :class:`Potential` subclass) to ``path``; ``metadata`` is stored too."""
    payload = potential_payload(model, **metadata)
    with atomic_path(path, ".pt") as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_potential(
    path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
) -> Potential:
    """Rebuild the potential saved at ``path`` (in eval mode, on ``map_location``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a readable noether checkpoint ({err})") from err
    return potential_from_payload(payload, str(path), map_location=map_location)


def potential_from_payload(
    payload: dict, where: str = "payload", *, map_location: str | torch.device = "cpu"
) -> Potential:
    """Rebuild a potential from :func:`potential_payload`'s dict; ``where`` names its source in
    errors."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{where}: not a noether potential checkpoint (no format {FORMAT!r}); expected a file "
            f"written by noether.atoms.save_potential"
        )
    module_name, _, qualname = payload["class"].partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"{where}: the model class {payload['class']} cannot be imported") from err
    if not (isinstance(obj, type) and issubclass(obj, Potential)):
        raise ValueError(f"{where}: {payload['class']} is not a noether Potential")
    options = payload["config"] if "config" in payload else payload["hparams"]
    kwargs = {k: _dtype(v) for k, v in options.items()}
    model = obj(**kwargs)
    model.to(_dtype(payload["dtype"]))
    model.load_state_dict(payload["state_dict"])
    return model.to(map_location).eval()
