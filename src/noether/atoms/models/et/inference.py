"""How an ET computes energies and forces outside training: one value chosen once, one pure policy.

ET has three implementations of one layer, which compute the same function:

- ``"eager"``: the plain autograd layer over the edge list
  (:class:`~noether.atoms.models.et.attention.EquivariantAttention`); any order of derivative,
  so training and every call with ``create_graph=True`` run it;
- ``"fused"``: the hand-written first-order layer over the edge list
  (:mod:`~noether.atoms.models.et.fused`, :mod:`~noether.atoms.models.et.messages`);
- ``"blocks"``: the same layer over dense molecule blocks (:mod:`~noether.atoms.models.et.blocks`),
  for batches of small molecules without periodic images.

:class:`ETInference` is the strategy a model holds (``model.inference``), set once by
:meth:`ET.set_inference <noether.atoms.models.et.ET.set_inference>` or
:meth:`~noether.atoms.models.et.ET.compile_inference`: a layout forced by the user or None (chosen
per call), whether inference is compiled, and which compiled parts fell back after a compiler
failure. :func:`choose_plan` is the policy: a pure function of the strategy and the call
(:class:`SystemShape`, derivative order) to the :class:`Plan` that call runs. ``forward`` reads
the strategy and never changes it; the only change outside the entry points is the recorded
fallback (:meth:`ETInference.without`), made when torch.compile fails, with a warning.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "COMPILED_PARTS",
    "LAYERS",
    "MAX_CELLS_PER_PAIR",
    "MIN_CELLS",
    "CompiledPart",
    "ETInference",
    "Layers",
    "Plan",
    "SystemShape",
    "blocks_pay",
    "choose_plan",
]

Layers = Literal["eager", "fused", "blocks"]
CompiledPart = Literal["graph", "blocks"]
LAYERS: tuple[str, ...] = typing.get_args(Layers)
COMPILED_PARTS: tuple[str, ...] = typing.get_args(CompiledPart)

#: Blocks are chosen when their cells number at most this many times the directed pairs (self
#: pairs included) of the edge list...
MAX_CELLS_PER_PAIR = 1.5
#: ...and at least this many: below it (two or three small molecules) the call is bound by the
#: number of operations, and the whole model compiled as one graph is faster.
MIN_CELLS = 256


@dataclass(frozen=True)
class ETInference:
    """An ET's inference strategy.

    Attributes:
        layers: the layout every inference call runs (``"eager"``, ``"fused"``, ``"blocks"``), or
            None: :func:`choose_plan` picks it from each call's shape. ``"blocks"`` falls back
            to ``"fused"`` for frames with periodic images (an atom's images would share a cell).
        compiled: run through ``torch.compile`` (:meth:`ET.compile_inference
            <noether.atoms.models.et.ET.compile_inference>`): eager layers as one compiled graph
            of the whole model, block layers with their two halves compiled. The fused edge list
            is never compiled (its scatter sums would compile to atomic adds).
        failed: the compiled parts (``"graph"``, ``"blocks"``) whose compilation failed; they run
            eager from then on (the model warned once when it happened).
    """

    layers: Layers | None = None
    compiled: bool = False
    failed: tuple[CompiledPart, ...] = ()

    def __post_init__(self) -> None:
        if self.layers is not None and self.layers not in LAYERS:
            raise ValueError(
                f"unknown layers {self.layers!r}; accepted: None (chosen per call) or "
                f"{', '.join(map(repr, LAYERS))}"
            )
        unknown = [p for p in self.failed if p not in COMPILED_PARTS]
        if unknown:
            raise ValueError(f"unknown compiled part(s) {unknown}; accepted: {COMPILED_PARTS}")

    def runs_compiled(self, part: CompiledPart) -> bool:
        """Whether ``part`` runs compiled: asked for and not failed."""
        return self.compiled and part not in self.failed

    def without(self, part: CompiledPart) -> ETInference:
        """This strategy with ``part`` recorded as failed to compile."""
        return self if part in self.failed else replace(self, failed=(*self.failed, part))


@dataclass(frozen=True)
class SystemShape:
    """What the policy needs to know of a call's system.

    Attributes:
        n_atoms: ``N``. n_frames: ``G``. largest_frame: atoms of the largest frame.
        n_pairs: unordered neighbour pairs within the cutoff (half the full list).
        periodic: whether any frame has periodic images.
    """

    n_atoms: int
    n_frames: int
    largest_frame: int
    n_pairs: int
    periodic: bool

    @classmethod
    def of(cls, batch: Tensor, n_frames: int, n_pairs: int, pbc: Tensor) -> SystemShape:
        """From a call's ``batch (N,)`` frame index, ``n_pairs`` and ``pbc (G, 3)``."""
        n_atoms = batch.shape[0]
        largest = int(torch.bincount(batch, minlength=n_frames).max()) if n_atoms else 0
        return cls(n_atoms, n_frames, largest, n_pairs, bool(pbc.any()))

    @property
    def block_cells(self) -> int:
        """Cells of the molecule blocks: ``G n²`` (``n`` the largest frame)."""
        return self.n_frames * self.largest_frame**2

    @property
    def directed_pairs(self) -> int:
        """Directed pairs of the edge list, self pairs included: ``2 P + N``."""
        return 2 * self.n_pairs + self.n_atoms


def blocks_pay(system: SystemShape) -> bool:
    """Whether molecule blocks beat the edge list: no periodic images, at least
    :data:`MIN_CELLS` cells and at most :data:`MAX_CELLS_PER_PAIR` per directed pair (a batch of
    molecules smaller than the cutoff sphere: MD17, QM9)."""
    if system.periodic or system.n_atoms == 0:
        return False
    cells = system.block_cells
    return MIN_CELLS <= cells <= MAX_CELLS_PER_PAIR * system.directed_pairs


@dataclass(frozen=True)
class Plan:
    """What one call runs: ``layers``, and ``compiled``: for eager layers the whole model as one
    compiled graph, for block layers their compiled halves."""

    layers: Layers
    compiled: bool = False


#: Training, ``create_graph=True`` and tracing: the differentiable layers, not compiled here.
DIFFERENTIABLE = Plan("eager")


def choose_plan(
    inference: ETInference, system: SystemShape, *, first_order: bool, fusable: bool
) -> Plan:
    """The plan of one call (a pure function).

    Args:
        inference: the model's strategy.
        system: the call's shape.
        first_order: whether the call needs first derivatives at most (eval mode, no
            ``create_graph``); otherwise the differentiable eager layers run.
        fusable: whether the hand-written layers compute this model
            (:attr:`~noether.atoms.models.et.config.ETConfig.fusable`).

    With ``layers=None``: compiled inference runs compiled blocks when they pay
    (:func:`blocks_pay`) and the whole compiled graph otherwise; uncompiled inference, or a
    compiled part that failed, the fused edge list.
    """
    if not first_order:
        return DIFFERENTIABLE
    graph = inference.runs_compiled("graph")
    kernels = inference.runs_compiled("blocks")
    layers = inference.layers
    if layers is None:
        if not fusable:
            layers = "eager"
        elif kernels and blocks_pay(system):
            layers = "blocks"
        else:
            layers = "eager" if graph else "fused"
    if layers == "blocks" and system.periodic:
        layers = "fused"
    if layers == "eager":
        return Plan("eager", compiled=graph)
    if layers == "blocks":
        return Plan("blocks", compiled=kernels)
    return Plan("fused")
