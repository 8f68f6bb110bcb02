"""Fine-tuning: a run that starts from another run's weights, with some of them frozen.

``finetune.init_from`` names a trained run (its ``best.ckpt``, else ``last.ckpt``) or one of its
checkpoint files. When the run starts (fresh, or restarted from the beginning by ``--resume``
before its first checkpoint), :func:`initialise_from`:

1. refuses a source whose model differs from this run's in its name or in any option other than
   those the task sets from its data (``Component.derived``: the atoms task's reference energies
   and standardisation), and a checkpoint whose weights do not fit this model;
2. loads the source's weights (the source's own, not its optimiser: the optimiser, schedule and
   step count start fresh);
3. lets the task adapt what depends on its data (:meth:`~noether.core.task.Task.adapt_initialised`:
   the atoms task's new elements and reference energies) and writes the options it set into the
   run's config, so config.yaml holds the model's constants.

A resumed run never reads the source again: its own ``last.ckpt`` holds every weight.
:func:`freeze` (``finetune.freeze``) turns off the gradients of parameters by name prefix, on
every start and resume alike, so the optimiser's parameter groups stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from torch import nn

from noether.core.checkpoints import PREFIX, find_checkpoint, load_checkpoint
from noether.core.task import Task
from noether.train.config import Config, ConfigError

__all__ = ["freeze", "initialise_from", "parameter_prefixes", "source_checkpoint"]


def source_checkpoint(init_from: str | Path) -> Path:
    """The checkpoint file ``finetune.init_from`` names: a run folder's ``best.ckpt`` (else
    ``last.ckpt``) or a file; a missing one is a :class:`ConfigError`."""
    try:
        return find_checkpoint(init_from)
    except FileNotFoundError as error:
        raise ConfigError(
            f"finetune.init_from: {error}; accepted: a run folder with checkpoints/best.ckpt or "
            f"last.ckpt, or a .ckpt file"
        ) from None


def check_compatible(config: Config, source: dict, path: Path) -> None:
    """One line naming every model option in which the source run differs from this one."""
    mine = {"name": config.model.name, **config.model.to_dict()}
    theirs = dict(source.get("model") or {})
    exempt = set(config.model.derived)
    differ = sorted(
        k
        for k in mine.keys() | theirs.keys()
        if k not in exempt and mine.get(k, theirs.get(k)) != theirs.get(k, mine.get(k))
    )
    if differ:
        details = "; ".join(
            f"model.{k}: {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in differ
        )
        raise ConfigError(
            f"finetune.init_from: {path} holds an incompatible model ({details}); accepted: a "
            f"run of the same model with the same options (only {', '.join(sorted(exempt)) or 'none'}"
            f" may differ, the task sets them from the data)"
        )


def initialise_from(
    model: nn.Module, config: Config, task: Task, log: Callable[[str], None] = print
) -> Path:
    """Load the weights of ``config.finetune.init_from`` into ``model`` and let ``task`` adapt
    them (see the module docstring); returns the checkpoint read. Raises :class:`ConfigError`
    (nothing written) for a missing or incompatible source."""
    path = source_checkpoint(config.finetune.init_from)
    checkpoint = load_checkpoint(path)
    source = checkpoint["noether"]["config"]
    check_compatible(config, source, path)
    state = {
        k[len(PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(PREFIX)
    }
    fresh = {k: v.detach().clone() for k, v in model.state_dict().items()}
    mismatched = sorted(
        k for k in state.keys() & fresh.keys() if tuple(state[k].shape) != tuple(fresh[k].shape)
    )
    missing, unexpected = sorted(fresh.keys() - state.keys()), sorted(state.keys() - fresh.keys())
    if mismatched or missing or unexpected:
        parts = [
            f"{what}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
            for what, names in (
                ("shapes differ", mismatched),
                ("missing there", missing),
                ("not in this model", unexpected),
            )
            if names
        ]
        raise ConfigError(
            f"finetune.init_from: the weights of {path} do not fit this model ({'; '.join(parts)})"
        )
    model.load_state_dict(state)
    options, notes = task.adapt_initialised(
        model, fresh, source, new_elements=config.finetune.new_elements
    )
    config.model.options.update({k: v for k, v in options.items() if k in config.model.options})
    log(f"initialised from {path}: {len(state)} tensors of model {config.model.name!r} loaded")
    for note in notes:
        log(f"  {note}")
    return path


def parameter_prefixes(model: nn.Module) -> list[str]:
    """The prefixes :func:`freeze` shows: each parameter's first name, with the index of a
    list of modules (``embedding``, ``layers.0``, ``head``), in the model's order."""
    out: dict[str, None] = {}
    for name, _ in model.named_parameters():
        parts = name.split(".")
        keep = 2 if len(parts) > 2 and parts[1].isdigit() else 1
        out[".".join(parts[:keep])] = None
    return list(out)


def freeze(model: nn.Module, prefixes: Sequence[str]) -> tuple[int, int]:
    """Turn off the gradients of every parameter named ``prefix`` or ``prefix.<...>``; returns
    (frozen, total) parameter counts. An unknown prefix is a :class:`ConfigError` listing those
    that exist."""
    named = dict(model.named_parameters())
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in named):
            raise ConfigError(
                f"finetune.freeze: {prefix!r} names no parameter of this model; accepted: a "
                f"parameter name or the part of one before a dot, such as "
                f"{', '.join(parameter_prefixes(model))}"
            )
    frozen = 0
    for name, parameter in named.items():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            parameter.requires_grad_(False)
            frozen += parameter.numel()
    return frozen, sum(p.numel() for p in named.values())
