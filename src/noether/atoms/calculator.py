"""`NoetherCalculator`: any noether potential as an ASE calculator.

Give it a :class:`Potential`, an :class:`ExportedPotential`, or a path: a checkpoint written by
:func:`~noether.atoms.checkpoint.save_potential` (``.pt``/``.ckpt``) or an exported ``.pt2``.
Properties: ``energy`` and ``free_energy`` (eV), ``energies`` (per atom, eV), ``forces`` (eV/Å)
and, for periodic cells, ``stress`` (eV/Å³, Voigt order xx yy zz yz xz xy, ASE's sign).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from noether.atoms.checkpoint import load_potential
from noether.atoms.export import ExportedPotential, load_exported
from noether.atoms.potential import Potential
from noether.core.checkpoints import load_trained_model

__all__ = ["NoetherCalculator", "inference_model", "load_model"]

POTENTIALS = (Potential, ExportedPotential)
ACCEPTED = (
    "accepted: a noether Potential, a training run of the atoms task (its folder or a .ckpt "
    "in it), a save_potential checkpoint (.pt) or an exported model (.pt2)"
)


def load_model(source: Potential | torch.nn.Module | str | os.PathLike, device: str = "cpu"):
    """A potential from a model object or a file: ``.pt2`` (exported), a training run's folder or
    ``.ckpt`` (rebuilt through the training registry), or a ``save_potential`` checkpoint.
    A model that is not a :class:`Potential` (e.g. a run of another task) is refused, naming
    what is accepted (``TypeError`` for an object, ``ValueError`` for a file)."""
    if isinstance(source, torch.nn.Module):
        if not isinstance(source, POTENTIALS):
            raise TypeError(f"{type(source).__name__} is not an atomistic potential; {ACCEPTED}")
        return source
    path = Path(source)
    if path.is_dir() or path.suffix == ".ckpt":
        model = load_trained_model(path, map_location=device)
        if not isinstance(model, POTENTIALS):
            raise ValueError(
                f"{path}: the run's model is a {type(model).__name__}, not an atomistic "
                f"potential; {ACCEPTED}"
            )
        return model
    if path.suffix == ".pt2":
        return load_exported(path)
    return load_potential(path, map_location=device)


def inference_model(
    source: Potential | torch.nn.Module | str | os.PathLike,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
) -> Potential | ExportedPotential:
    """:func:`load_model`, then a :class:`Potential` on ``device`` in eval mode, cast to ``dtype``
    (with a warning when that changes it; None keeps the model's own). An exported model keeps
    the dtype it was exported in."""
    model = load_model(source, device)
    if isinstance(model, Potential):
        model = model.to(device).eval()
        if dtype is not None and dtype != model.dtype:
            warnings.warn(
                f"{type(model).__name__}: casting the model from {model.dtype} to {dtype}",
                stacklevel=3,
            )
            model = model.to(dtype)
    return model


class NoetherCalculator(Calculator):
    """ASE calculator over a noether potential.

    Args:
        model: a potential or a path (see :func:`load_model`).
        device: where the model runs.
        dtype: cast a :class:`Potential` to this dtype (with a warning if it changes); None keeps
            the model's own. Positions are always given to the model in its dtype.
    """

    implemented_properties: ClassVar[list[str]] = [
        "energy",
        "free_energy",
        "energies",
        "forces",
        "stress",
    ]

    def __init__(
        self,
        model: Potential | torch.nn.Module | str | os.PathLike,
        *,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.model = inference_model(model, device, dtype)
        self.device = device

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        periodic = bool(atoms.pbc.any())
        want_stress = "stress" in properties
        if want_stress and not periodic:
            raise PropertyNotImplementedError(
                "stress needs a periodic cell (atoms.pbc is all False); a molecule has no stress"
            )
        dtype = self.model.dtype
        numbers = torch.as_tensor(atoms.numbers, dtype=torch.long, device=self.device)
        positions = torch.as_tensor(atoms.positions, dtype=dtype, device=self.device)
        cell = pbc = None
        if periodic:
            cell = torch.as_tensor(np.asarray(atoms.cell[:]), dtype=dtype, device=self.device)
            pbc = torch.as_tensor(atoms.pbc, dtype=torch.bool, device=self.device)
        out = self.model(
            numbers, positions, None, cell, pbc, compute_forces=True, compute_stress=want_stress
        )
        energy = float(out["energy"].detach().sum())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out["atomic_energies"].detach().cpu().double().numpy(),
            "forces": out["forces"].detach().cpu().double().numpy(),
        }
        if want_stress:
            stress = out["stress"].detach().cpu().double().numpy().reshape(3, 3)
            self.results["stress"] = full_3x3_to_voigt_6_stress(stress)
