"""Unordered atom pairs from a full neighbour list, the layout the ET layers run on.

A full list holds every pair twice (``i→j`` and ``j→i``). Everything ET computes from a distance
alone (radial basis, distance filters, cutoff) is the same for both directions, so it is computed
once per unordered pair ``(a, b)``; messages, which differ by direction, use the *directed* edges
laid out as ``[a←b for every pair; b←a for every pair]``. Per-direction tensors then have shape
``(2 P, …)``, viewable as ``(2, P, …)`` against per-pair ``(1, P, …)`` filters by broadcasting:
half the filter work and memory, no copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from noether.atoms.potential import Graph

__all__ = ["Pairs", "unordered_pairs"]


@dataclass
class Pairs:
    """``P`` unordered pairs and the ``E = 2P`` directed edges built from them.

    Attributes:
        centre: ``(E,)`` receiving atom of each directed edge (``[a; b]``).
        neighbour: ``(E,)`` sending atom (``[b; a]``).
        length: ``(P,)`` distance ``|r_b - r_a|`` in Å (differentiable).
        direction: ``(E, 3)`` unit vector from centre to neighbour (``[d; -d]``).
    """

    centre: Tensor
    neighbour: Tensor
    length: Tensor
    direction: Tensor

    @property
    def n_pairs(self) -> int:
        return self.length.shape[0]


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
    a = graph.edge_index[0][keep]
    b = graph.edge_index[1][keep]
    vec = graph.vectors[keep]
    length = vec.norm(dim=-1)
    unit = vec / length.unsqueeze(-1)
    return Pairs(
        centre=torch.cat([a, b]),
        neighbour=torch.cat([b, a]),
        length=length,
        direction=torch.cat([unit, -unit]),
    )
