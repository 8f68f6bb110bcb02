"""One ET layer (et/attention.py): scalars invariant and vectors equivariant under O(3), its
options checked, and messages that vanish at the cutoff."""

from __future__ import annotations

import pytest
import torch
from test_fused import _layer_inputs

from noether.atoms.models.et.attention import EquivariantAttention
from noether.atoms.models.et.pairs import MessagePairs
from noether.testing import random_orthogonal


def test_layer_is_o3_equivariant():
    layer, x, v, message, rbf, _ = _layer_inputs()
    rot = random_orthogonal(generator=torch.Generator().manual_seed(2))  # reflections too
    rotated = MessagePairs(
        message.a, message.b, message.centre, message.neighbour, message.weight,
        message.unit @ rot.T,
    )  # fmt: skip
    x1, v1 = layer(x, v, message, rbf)
    x2, v2 = layer(x, torch.einsum("ij,njh->nih", rot, v), rotated, rbf)
    assert torch.allclose(x2, x1, atol=1e-11, rtol=0)
    assert torch.allclose(v2, torch.einsum("ij,njh->nih", rot, v1), atol=1e-11, rtol=0)


def test_a_pair_at_the_cutoff_sends_nothing():
    layer, x, v, message, rbf, _ = _layer_inputs()
    cut = MessagePairs(
        message.a, message.b, message.centre, message.neighbour,
        torch.where(message.weight == 0.5, 0.5, 0.0), message.unit,
    )  # fmt: skip
    n = x.shape[0]
    atoms = torch.arange(n)
    alone = MessagePairs(
        atoms, atoms, torch.cat([atoms, atoms]), torch.cat([atoms, atoms]),
        message.weight.new_full((n,), 0.5), message.unit.new_zeros(n, 3),
    )  # fmt: skip
    x1, v1 = layer(x, v, cut, rbf)
    x2, v2 = layer(x, v, alone, rbf[-n:])
    assert torch.allclose(x1, x2, atol=1e-12, rtol=0) and torch.allclose(v1, v2, atol=1e-12, rtol=0)


def test_options_are_checked():
    silu = torch.nn.functional.silu
    with pytest.raises(ValueError, match="divisible"):
        EquivariantAttention(10, 4, 8, silu, silu)
    with pytest.raises(ValueError, match="distance_influence"):
        EquivariantAttention(8, 2, 8, silu, silu, "queries")
    assert EquivariantAttention(8, 2, 8, silu, silu, "none").filter is None
