"""Export a :class:`Potential` to one self-contained file with ``torch.export`` (``.pt2``).

The exported program maps ``(numbers (n,), positions (n, 3), cell (3, 3), pbc (3,), strain (3, 3))``
to ``(atomic_energies (n,), energy (1,))`` for one frame of any size (n ≥ 2), neighbour list
included (all pairs over the periodic images that were needed for the example cell). Forces and
stress come from autograd on the loaded program, so the file runs without noether::

    program = torch.export.load("model.pt2").module()
    positions.requires_grad_(True)
    strain = torch.zeros(3, 3, dtype=positions.dtype, requires_grad=True)
    atomic, energy = program(numbers, positions, cell, pbc, strain)
    forces = -torch.autograd.grad(energy.sum(), positions)[0]

:func:`load_exported` wraps exactly that in :class:`ExportedPotential`, which has the
:class:`Potential` call signature and is what :class:`~noether.atoms.calculator.NoetherCalculator`
uses. The exported neighbour search is O(n²): meant for molecules and small periodic cells.

:class:`ExportedPotential` checks its inputs before the program runs and refuses, with one line
naming the atom and what is accepted: an element the model was not trained on (the model's
``elements``, recorded in the file; else its embedding range), two atoms closer than
``min_distance`` (0.5 Å unless given to :func:`export_potential`; periodic images included), a
position that is not finite, and a periodic frame given to a model exported for molecules (or
the reverse).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from noether import __version__
from noether.atoms.elements import MAX_Z
from noether.atoms.neighbors import complete_cell, edge_vectors, neighbor_list
from noether.atoms.potential import Potential, check_elements, energy_derivatives
from noether.core.io import atomic_path

__all__ = ["ExportedPotential", "export_potential", "load_exported"]

_META = "noether.json"
MIN_DISTANCE = 0.5
"""Å: two atoms closer than this are refused by an exported model (unless exported with another
``min_distance``): no training set holds them, so any energy there would be invented."""


def _reach(cell: Tensor, pbc: Tensor, cutoff: float) -> list[int]:
    """Periodic images needed along each axis so that every pair within ``cutoff`` is found."""
    if not bool(pbc.any()):
        return [0, 0, 0]
    heights = 1.0 / torch.linalg.inv(cell.double()).norm(dim=0)
    return [math.ceil(cutoff / float(h)) if bool(p) else 0 for h, p in zip(heights, pbc)]


class _EnergyProgram(nn.Module):
    """The traced function: neighbour pairs over fixed images, then the model's energy."""

    def __init__(self, model: Potential, reach: list[int]):
        super().__init__()
        self.model = model
        self.periodic = any(r > 0 for r in reach)
        ranges = [torch.arange(-r, r + 1) for r in reach]
        self.register_buffer("images", torch.cartesian_prod(*ranges).to(model.dtype).reshape(-1, 3))

    def forward(
        self, numbers: Tensor, positions: Tensor, cell: Tensor, pbc: Tensor, strain: Tensor
    ) -> tuple[Tensor, Tensor]:
        n = positions.shape[0]
        cutoff = self.model.cutoff
        images = self.images
        if self.periodic:
            frac = torch.linalg.solve(cell.T, positions.detach().T).T
            image = torch.where(pbc, torch.floor(frac), torch.zeros_like(frac))
        else:
            image = torch.zeros_like(positions)
        wrapped = positions.detach() - image @ cell.detach()
        vec = (
            wrapped[None, :, None, :]
            - wrapped[:, None, None, :]
            + (images @ cell.detach())[None, None]
        )
        keep = vec.square().sum(-1) < cutoff * cutoff
        same = torch.eye(n, dtype=torch.bool, device=positions.device)[:, :, None]
        keep = keep & ~(same & (images == 0).all(-1)[None, None])
        i, j, k = torch.nonzero(keep, as_tuple=True)
        shifts = images[k] + image[i] - image[j]
        batch = torch.zeros(n, dtype=torch.long, device=positions.device)
        return self.model.energy_from_pairs(
            numbers,
            positions,
            batch,
            1,
            cell[None],
            pbc[None],
            torch.stack([i, j]),
            shifts,
            strain[None],
        )


def export_potential(
    model: Potential,
    path: str | os.PathLike,
    *,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
    min_distance: float = MIN_DISTANCE,
) -> Path:
    """Export ``model`` to ``path`` (``.pt2``), atomically.

    Args:
        cell, pbc: a periodic cell of the size the exported model will run on (Å); the images it
            needs within the cutoff are fixed in the file, and a smaller cell is refused at run
            time. Leave both None for molecules.
        min_distance: Å: the loaded model refuses two atoms closer than this.
    """
    if not (0 <= min_distance < model.cutoff):
        raise ValueError(
            f"min_distance {min_distance} Å: accepted: 0 <= min_distance < the cutoff "
            f"{model.cutoff} Å"
        )
    if not isinstance(model, Potential):
        raise TypeError(f"export_potential needs a noether Potential, got {type(model).__name__}")
    model = model.eval()
    dtype, device = model.dtype, model.device
    cell = torch.zeros(3, 3, dtype=dtype) if cell is None else torch.as_tensor(cell, dtype=dtype)
    pbc = (
        torch.zeros(3, dtype=torch.bool) if pbc is None else torch.as_tensor(pbc, dtype=torch.bool)
    )
    cell = complete_cell(cell, pbc)  # a zero vector along a non-periodic axis (2D, 1D)
    reach = _reach(cell, pbc, model.cutoff)
    program = _EnergyProgram(model, reach).eval()
    n = 4
    example = (
        torch.tensor([1, 6, 7, 8]),
        torch.randn(n, 3, dtype=dtype, generator=torch.Generator().manual_seed(0)),
        cell.to(device),
        pbc.to(device),
        torch.zeros(3, 3, dtype=dtype),
    )
    atoms = torch.export.Dim("n_atoms", min=2)
    exported = torch.export.export(
        program, example, dynamic_shapes=({0: atoms}, {0: atoms}, None, None, None)
    )
    cls = type(model)
    meta = {
        "noether": __version__,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "hparams": model.hparams,
        "cutoff": model.cutoff,
        "dtype": str(dtype),
        "periodic": program.periodic,
        "reach": reach,
        "elements": model.elements,
        "max_atomic_number": model.max_atomic_number,
        "min_distance": float(min_distance),
    }
    with atomic_path(path, ".pt2") as tmp:
        torch.export.save(exported, tmp, extra_files={_META: json.dumps(meta)})
    return Path(path)


class ExportedPotential(nn.Module):
    """A loaded ``.pt2`` with the :class:`Potential` call signature (energy, forces, stress)."""

    def __init__(self, program: nn.Module, meta: dict):
        super().__init__()
        self.program = program
        self.meta = meta
        self.cutoff = float(meta["cutoff"])
        self.dtype = getattr(torch, meta["dtype"].removeprefix("torch."))

    def forward(
        self,
        numbers: Tensor,
        positions: Tensor,
        batch: Tensor | None = None,
        cell: Tensor | None = None,
        pbc: Tensor | None = None,
        *,
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool = False,
    ) -> dict[str, Tensor]:
        """Same inputs and outputs as :meth:`Potential.forward`; frames are run one at a time."""
        if batch is not None and batch.numel() and int(batch.max()) > 0:
            parts = []
            n_graphs = int(batch.max()) + 1
            cells = None if cell is None else cell.reshape(-1, 3, 3).expand(n_graphs, 3, 3)
            pbcs = None if pbc is None else pbc.reshape(-1, 3).expand(n_graphs, 3)
            for g in range(n_graphs):
                sel = batch == g
                parts.append(
                    self(
                        numbers[sel],
                        positions[sel],
                        None,
                        None if cells is None else cells[g],
                        None if pbcs is None else pbcs[g],
                        compute_forces=compute_forces,
                        compute_stress=compute_stress,
                        create_graph=create_graph,
                    )
                )
            return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        positions = positions.to(self.dtype)
        if positions.ndim != 2 or positions.shape[-1] != 3 or numbers.shape != positions.shape[:1]:
            raise ValueError(
                f"numbers {tuple(numbers.shape)} and positions {tuple(positions.shape)} must have "
                f"shapes (n,) and (n, 3)"
            )
        if positions.shape[0] < 2:
            raise ValueError("an exported potential needs at least 2 atoms per frame")
        self.check_elements(numbers)
        if not torch.isfinite(positions).all():
            k = int(torch.nonzero(~torch.isfinite(positions).all(dim=1))[0, 0])
            raise ValueError(
                f"atom {k}: positions {positions[k].tolist()} are not finite; accepted: finite Å"
            )
        cell = torch.zeros(3, 3, dtype=self.dtype) if cell is None else cell.to(self.dtype)
        cell = cell.reshape(3, 3)
        pbc = torch.zeros(3, dtype=torch.bool) if pbc is None else pbc.to(torch.bool).reshape(3)
        if bool(pbc.any()) != bool(self.meta["periodic"]):
            raise ValueError(
                f"this model was exported for {'periodic' if self.meta['periodic'] else 'molecular'} "
                f"frames but got pbc={pbc.tolist()}; export again with a matching cell"
            )
        if compute_stress and not bool(torch.linalg.det(cell).abs() > 1e-8):
            raise ValueError(
                f"stress needs a periodic cell of positive volume, got {cell.tolist()}"
            )
        run_cell = complete_cell(cell, pbc)  # only differs along non-periodic axes
        self.check_distances(positions.detach(), run_cell, pbc)
        needed = _reach(run_cell, pbc, self.cutoff)
        if any(a > b for a, b in zip(needed, self.meta["reach"])):
            raise ValueError(
                f"the cell needs periodic images {needed} within the cutoff but the model was "
                f"exported with {self.meta['reach']}; export again with a cell this small"
            )
        with torch.enable_grad():
            positions = positions.detach().requires_grad_(compute_forces)
            strain = torch.zeros(3, 3, dtype=self.dtype, requires_grad=compute_stress)
            atomic, energy = self.program(numbers.long(), positions, run_cell, pbc, strain)
            out = {"energy": energy, "atomic_energies": atomic}
            volume = torch.linalg.det(cell).abs() if compute_stress else None
            out.update(
                energy_derivatives(
                    energy,
                    positions if compute_forces else None,
                    strain if compute_stress else None,
                    volume,
                    create_graph=create_graph,
                )
            )
        return out if create_graph else {k: v.detach() for k, v in out.items()}

    def check_elements(self, numbers: Tensor) -> None:
        """Refuse an element the model was not trained on (files written before the elements
        were recorded: one outside its embedding range)."""
        limit = int(self.meta.get("max_atomic_number", MAX_Z))
        check_elements(numbers, limit, self.meta.get("elements"), model="exported model")

    def check_distances(self, positions: Tensor, cell: Tensor, pbc: Tensor) -> None:
        """Refuse two atoms (or an atom and a periodic image) closer than ``min_distance``."""
        limit = float(self.meta.get("min_distance", MIN_DISTANCE))
        if limit <= 0:
            return
        edge_index, shifts = neighbor_list(positions, limit, None, cell[None], pbc[None])
        if edge_index.shape[1] == 0:
            return
        batch = torch.zeros(positions.shape[0], dtype=torch.long)
        lengths = edge_vectors(positions, edge_index, shifts, cell[None], batch).norm(dim=-1)
        e = int(torch.argmin(lengths))
        i, j = int(edge_index[0, e]), int(edge_index[1, e])
        raise ValueError(
            f"atoms {min(i, j)} and {max(i, j)} are {float(lengths[e]):.3g} Å apart (periodic "
            f"images included); accepted: at least {limit} Å (overlapping atoms, no energy)"
        )


def load_exported(path: str | os.PathLike) -> ExportedPotential:
    """Load a ``.pt2`` written by :func:`export_potential`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    extra = {_META: ""}
    try:
        exported = torch.export.load(path, extra_files=extra)
    except Exception as err:
        raise ValueError(f"{path}: not a readable torch.export file ({err})") from err
    if not extra[_META]:
        raise ValueError(f"{path}: no {_META} inside; not written by noether's export_potential")
    return ExportedPotential(exported.module(), json.loads(extra[_META]))
