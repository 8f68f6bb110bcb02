"""ET's neighbour embedding (et/embedding.py) against the sum it stands for, written as a loop."""

from __future__ import annotations

import torch
from test_pairs import graph_of

from noether.atoms.models.et.embedding import NeighborEmbedding
from noether.atoms.models.et.pairs import unordered_pairs


def test_neighbor_embedding_is_the_cutoff_weighted_sum_over_neighbours():
    torch.manual_seed(0)
    emb = NeighborEmbedding(hidden=6, num_rbf=4, max_z=10).to(torch.float64)
    positions = torch.randn(5, 3, dtype=torch.float64) * 1.5
    graph = graph_of(positions, 3.0)
    numbers = torch.tensor([1, 6, 8, 1, 7])
    pairs = unordered_pairs(graph)
    rbf = torch.rand(pairs.n_pairs, 4, dtype=torch.float64)
    phi = torch.rand(pairs.n_pairs, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64)
    out = emb(numbers, x, pairs, rbf, phi)
    gathered = torch.zeros(5, 6, dtype=torch.float64)
    for k, (a, b) in enumerate(zip(pairs.a.tolist(), pairs.b.tolist())):
        w = emb.distance(rbf[k]) * phi[k]
        gathered[a] += w * emb.embedding.weight[numbers[b]]
        gathered[b] += w * emb.embedding.weight[numbers[a]]
    expected = emb.combine(torch.cat([x, gathered], dim=-1))
    assert torch.allclose(out, expected, atol=1e-12, rtol=0)
