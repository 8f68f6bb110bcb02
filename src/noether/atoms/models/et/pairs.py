"""Unordered atom pairs from a full neighbour list, the layout the ET layers run on.

A full list holds every pair twice (``i→j`` and ``j→i``). Everything ET computes from a distance
alone (radial basis, distance filters, cutoff) is the same for both directions, so it is computed
once per unordered pair ``(a, b)``; messages, which differ by direction, use the *directed* edges
laid out as ``[a←b for every pair; b←a for every pair]``. Per-direction tensors then have shape
``(2 P, …)``, viewable as ``(2, P, …)`` against per-pair ``(1, P, …)`` filters by broadcasting:
half the filter work and memory, no copies.

ET's sums also run over each atom itself (``r = 0``). :func:`message_pairs` appends one pair
``(i, i)`` per atom with weight ``½`` in place of the cutoff, so its two directed edges together
give the self term once, and every layer treats it as an ordinary pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from noether.atoms.potential import Graph

__all__ = ["MessagePairs", "Pairs", "message_pairs", "unordered_pairs"]


@dataclass
class Pairs:
    """``P`` unordered pairs ``(a, b)`` of distinct atoms (or periodic images).

    Attributes:
        a, b: ``(P,)`` atom indices.
        length: ``(P,)`` distance ``|r_b - r_a|`` in Å (differentiable).
        unit: ``(P, 3)`` unit vector from ``a`` to ``b`` (the edge ``b←a`` uses ``-unit``).
    """

    a: Tensor
    b: Tensor
    length: Tensor
    unit: Tensor

    @property
    def n_pairs(self) -> int:
        return self.length.shape[0]


@dataclass
class MessagePairs:
    """The pairs a layer sums over: ``P`` real pairs then ``N`` self pairs ``(i, i)``.

    Attributes:
        a, b: ``(P + N,)``. centre, neighbour: ``(2(P + N),)`` receiving and sending atom of
        each directed edge, ``[a; b]`` and ``[b; a]``. weight: ``(P + N,)`` the cutoff ``φ(r)``,
        ``½`` for self pairs. unit: ``(P + N, 3)``, zero for self pairs.
    """

    a: Tensor
    b: Tensor
    centre: Tensor
    neighbour: Tensor
    weight: Tensor
    unit: Tensor


def _canonical(edge_index: Tensor, vectors: Tensor) -> Tensor:
    """``(E,)`` bool: one direction of every pair. ``i < j``; for a periodic image of an atom
    itself (``i == j``), the image whose vector's first nonzero component is positive."""
    i, j = edge_index[0], edge_index[1]
    v = vectors.detach()
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    positive = (x > 0) | ((x == 0) & ((y > 0) | ((y == 0) & (z > 0))))
    return (i < j) | ((i == j) & positive)


def unordered_pairs(graph: Graph) -> Pairs:
    """The :class:`Pairs` of ``graph`` (whose list must hold both directions of every pair)."""
    keep = _canonical(graph.edge_index, graph.vectors)
    if torch.compiler.is_compiling():
        # a full list holds exactly one canonical direction of each pair: the first E/2 of a
        # stable sort keep the list's order with a shape that does not depend on the data
        keep = torch.argsort((~keep).to(torch.uint8), stable=True)[: keep.shape[0] // 2]
    vec = graph.vectors[keep]
    length = vec.norm(dim=-1)
    return Pairs(
        a=graph.edge_index[0][keep],
        b=graph.edge_index[1][keep],
        length=length,
        unit=vec / length.unsqueeze(-1),
    )


def message_pairs(pairs: Pairs, cutoff: Tensor, n_atoms: int) -> MessagePairs:
    """``pairs`` plus one self pair per atom; ``cutoff (P,)`` is ``φ`` of the real pairs."""
    atoms = torch.arange(n_atoms, device=pairs.a.device)
    a = torch.cat([pairs.a, atoms])
    b = torch.cat([pairs.b, atoms])
    return MessagePairs(
        a=a,
        b=b,
        centre=torch.cat([a, b]),
        neighbour=torch.cat([b, a]),
        weight=torch.cat([cutoff, cutoff.new_full((n_atoms,), 0.5)]),
        unit=torch.cat([pairs.unit, pairs.unit.new_zeros(n_atoms, 3)]),
    )
