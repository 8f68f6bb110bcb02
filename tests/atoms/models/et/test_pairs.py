"""Unordered pairs and message pairs (et/pairs.py): each pair once, both directions, self pairs."""

from __future__ import annotations

import torch

from noether.atoms.models.et.pairs import message_pairs, unordered_pairs
from noether.atoms.neighbors import neighbor_list
from noether.atoms.potential import Graph


def graph_of(positions, cutoff, cell=None, pbc=None):
    n = positions.shape[0]
    batch = torch.zeros(n, dtype=torch.long)
    cell = torch.zeros(1, 3, 3, dtype=positions.dtype) if cell is None else cell.reshape(1, 3, 3)
    pbc = torch.zeros(1, 3, dtype=torch.bool) if pbc is None else pbc.reshape(1, 3)
    edge_index, shifts = neighbor_list(positions, cutoff, batch, cell, pbc)
    i, j = edge_index
    vectors = positions[j] - positions[i] + shifts.to(positions.dtype) @ cell[0]
    return Graph(
        torch.ones(n, dtype=torch.long), positions, batch, 1, edge_index, vectors, cell, pbc
    )


def test_each_pair_of_a_full_list_once():
    positions = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    graph = graph_of(positions, 2.5)
    pairs = unordered_pairs(graph)
    assert 2 * pairs.n_pairs == graph.edge_index.shape[1]
    assert (pairs.a < pairs.b).all()
    assert len({(int(a), int(b)) for a, b in zip(pairs.a, pairs.b)}) == pairs.n_pairs
    r = positions[pairs.b] - positions[pairs.a]
    assert torch.allclose(pairs.length, r.norm(dim=1)) and torch.allclose(
        pairs.unit * pairs.length[:, None], r
    )


def test_an_atom_and_its_own_periodic_image_count_once():
    positions = torch.zeros(1, 3, dtype=torch.float64)
    cell = torch.diag(torch.tensor([2.0, 10.0, 10.0], dtype=torch.float64))
    graph = graph_of(positions, 3.0, cell, torch.tensor([True, True, True]))
    pairs = unordered_pairs(graph)
    assert graph.edge_index.shape[1] == 2 and pairs.n_pairs == 1  # the images at ±2 Å, once
    assert (pairs.unit[:, 0] > 0).all()


def test_message_pairs_append_one_self_pair_per_atom_with_half_weight():
    positions = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    pairs = unordered_pairs(graph_of(positions, 3.0))
    phi = torch.rand(pairs.n_pairs, dtype=torch.float64)
    message = message_pairs(pairs, phi, 5)
    p = pairs.n_pairs
    assert torch.equal(message.a[p:], torch.arange(5)) and torch.equal(
        message.b[p:], torch.arange(5)
    )
    assert (message.weight[p:] == 0.5).all() and (message.unit[p:] == 0).all()
    assert torch.equal(message.centre, torch.cat([message.a, message.b]))
    assert torch.equal(message.neighbour, torch.cat([message.b, message.a]))
