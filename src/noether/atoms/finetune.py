"""A trained potential adapted to new data: embeddings of new elements, reference energies.

When a run starts from another run's weights (``finetune.init_from``, docs/training.md), the
atoms task (:meth:`~noether.atoms.task.AtomisticTask.adapt_initialised`) calls the functions
here once, after the weights are loaded:

- the elements the source run trained on are the keys of its ``model.atomref`` (the atoms task
  writes the reference energies of every element of its training split there);
- each element of the new training split that the source never saw gets its rows of the
  model's element tables (:meth:`~noether.atoms.potential.Potential.element_parameters`) set to
  the mean of the trained elements' rows (``"mean"``) or to this run's own random
  initialisation (``"init"``); the source's rows of such an element were never trained (and
  AdamW's weight decay shrinks them), so neither is kept;
- the reference energies are then refit to the loaded model's energy residuals on the new
  training split (:meth:`~noether.atoms.task.AtomisticTask.refit_reference_energies`), while
  the standardisation (``energy_scale``, ``energy_shift``) stays the source's: the trained
  weights output energies in its units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from noether.atoms.elements import atomic_number, symbol
from noether.atoms.potential import Potential

__all__ = ["NEW_ELEMENTS", "initialise_new_elements", "potential_options", "trained_elements"]

NEW_ELEMENTS = ("mean", "init")


def trained_elements(source_model: Mapping[str, Any]) -> list[int] | None:
    """Atomic numbers the source run trained on: the keys of its ``model:`` section's
    ``atomref`` (set by the atoms task from its training split); None when it has none (a run
    with ``task.fit_atomref: false``, or without energies)."""
    atomref = source_model.get("atomref")
    if not atomref:
        return None
    return sorted(atomic_number(element) for element in atomref)


def _names(numbers: Iterable[int]) -> str:
    return ", ".join(symbol(int(z)) for z in numbers)


def initialise_new_elements(
    model: Potential,
    fresh: Mapping[str, Tensor],
    trained: list[int] | None,
    present: Iterable[int],
    mode: str = "mean",
) -> list[str]:
    """Set the element-table rows of the elements in ``present`` (the new training split's)
    that are not in ``trained`` (the source's), in place; one line per change. A model that
    records the elements it accepts (``model.elements``) accepts those of ``present`` too.

    Args:
        model: the potential with the source's weights loaded.
        fresh: its state before loading (this run's own initialisation), by parameter name.
        trained: atomic numbers the source trained on (:func:`trained_elements`); None: unknown,
            every row stays as loaded.
        present: atomic numbers of the new training split.
        mode: ``"mean"`` (the mean of the trained rows) or ``"init"`` (the ``fresh`` rows).
    """
    if mode not in NEW_ELEMENTS:
        raise ValueError(f"new_elements: got {mode!r}; accepted: {', '.join(NEW_ELEMENTS)}")
    present = sorted({int(z) for z in present})
    if model.elements is not None:
        model.elements = sorted(set(model.elements) | set(present))
    if trained is None:
        return [
            "the source run records no trained elements (its model.atomref is null): every "
            "element table row is kept as in its checkpoint"
        ]
    new = [z for z in present if z not in trained]
    if not new:
        return []
    tables = model.element_parameters()
    if not tables:
        return [f"new elements {_names(new)}: {type(model).__name__} has no element tables"]
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name in tables:
            table = parameters[name]
            rows = [z for z in new if z < table.shape[0]]
            known = [z for z in trained if z < table.shape[0]]
            if mode == "mean":
                table[rows] = table[known].mean(dim=0)
            else:
                table[rows] = fresh[name][rows].to(table)
    how = (
        f"the mean of the trained elements' rows ({_names(trained)})"
        if mode == "mean"
        else "this run's own random initialisation"
    )
    return [f"new elements {_names(new)}: rows of {', '.join(tables)} set to {how}"]


def potential_options(model: Potential) -> dict[str, Any]:
    """The model options a potential's constants correspond to (``atomref`` of every nonzero
    element, ``energy_scale``, ``energy_shift``, and ``elements`` when the model records the
    elements it accepts), for the run's config.yaml."""
    energies = model.atomref.energies.double().cpu()
    options: dict[str, Any] = {
        "atomref": {symbol(z): float(energies[z]) for z in range(len(energies)) if energies[z]},
        "energy_scale": float(model.scale_shift.scale),
        "energy_shift": float(model.scale_shift.shift),
    }
    if model.elements is not None:
        options["elements"] = [symbol(z) for z in model.elements]
    return options
