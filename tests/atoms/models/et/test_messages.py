"""The neighbour sums of one layer (et/messages.py): the hand-written forward and backward in chunks
equal plain autograd."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

import noether.atoms.models.et.messages as messages
from noether.atoms.models.et.messages import edge_sums_backward, edge_sums_forward, edge_sums_plain
from noether.atoms.models.et.pairs import MessagePairs


def random_pairs(n_atoms=6, n_pairs=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, n_atoms, (n_pairs,), generator=g)
    b = (a + torch.randint(1, n_atoms, (n_pairs,), generator=g)) % n_atoms
    unit = F.normalize(torch.randn(n_pairs, 3, generator=g, dtype=torch.float64), dim=1)
    weight = torch.rand(n_pairs, generator=g, dtype=torch.float64)
    atoms = torch.arange(n_atoms)
    a, b = torch.cat([a, atoms]), torch.cat([b, atoms])
    return MessagePairs(
        a=a,
        b=b,
        centre=torch.cat([a, b]),
        neighbour=torch.cat([b, a]),
        weight=torch.cat([weight, weight.new_full((n_atoms,), 0.5)]).requires_grad_(True),
        unit=torch.cat([unit, unit.new_zeros(n_atoms, 3)]).requires_grad_(True),
    )


@pytest.mark.parametrize("chunk", [4, 1024])
@pytest.mark.parametrize("with_vectors", [True, False])
def test_forward_and_backward_by_hand_equal_autograd(monkeypatch, chunk, with_vectors):
    monkeypatch.setattr(messages, "CHUNK_PAIRS", chunk)
    torch.manual_seed(0)
    n, hidden, heads, k = 6, 8, 2, 5
    pairs = random_pairs(n)
    p = pairs.a.shape[0]
    q, kk, s0, s2 = (
        torch.randn(n, hidden, dtype=torch.float64, requires_grad=True) for _ in "1234"
    )
    sv = (
        torch.randn(n, 3, hidden, dtype=torch.float64, requires_grad=True) if with_vectors else None
    )
    rbf = torch.randn(p, k, dtype=torch.float64)
    weight = torch.randn(4 * hidden, k, dtype=torch.float64)
    bias = torch.randn(4 * hidden, dtype=torch.float64)
    pre = torch.addmm(bias, rbf, weight.t()).requires_grad_(True)
    f = F.silu(pre)
    y, w = edge_sums_plain(q, kk, s0, s2, sv, (f[:, :hidden], f[:, hidden:]), pairs, heads, F.silu)
    y2, w2, pre2 = edge_sums_forward(q, kk, s0, s2, sv, rbf, weight, bias, pairs, heads)
    assert torch.allclose(y, y2, atol=1e-12, rtol=0) and torch.allclose(w, w2, atol=1e-12, rtol=0)
    gy, gw = torch.randn_like(y), torch.randn_like(w)
    inputs = [q, kk, s0, s2, *([sv] if with_vectors else []), pre, pairs.weight, pairs.unit]
    expected = torch.autograd.grad((y * gy).sum() + (w * gw).sum(), inputs)
    got = edge_sums_backward(gy, gw, q, kk, s0, s2, sv, pre2, pairs, heads)
    got = [g for g in got if g is not None]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert torch.allclose(a, b, atol=1e-11, rtol=0)
