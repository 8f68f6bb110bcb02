"""ET's readouts (et/heads.py): shapes, rotation invariance, and a norm safe at zero."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from noether.atoms.models.et.heads import GatedEquivariantHead, ScalarHead, safe_norm
from noether.testing import random_orthogonal


def test_safe_norm_has_zero_gradients_of_any_order_at_zero():
    v = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(safe_norm(v, 1).sum(), v, create_graph=True)
    assert torch.equal(g, torch.zeros_like(v))
    (gg,) = torch.autograd.grad(g.sum(), v, allow_unused=True, materialize_grads=True)
    assert torch.isfinite(gg).all()
    assert torch.allclose(safe_norm(torch.tensor([[3.0, 4.0]]), 1), torch.tensor([5.0]))


def test_heads_give_one_invariant_number_per_atom():
    torch.manual_seed(0)
    x = torch.randn(5, 8, dtype=torch.float64)
    v = torch.randn(5, 3, 8, dtype=torch.float64)
    rot = random_orthogonal(generator=torch.Generator().manual_seed(0))  # O(3)
    for head in (GatedEquivariantHead(8, F.silu), ScalarHead(8, F.silu)):
        head = head.to(torch.float64)
        out = head(x, v)
        assert out.shape == (5,)
        assert torch.allclose(head(x, torch.einsum("ij,njh->nih", rot, v)), out, atol=1e-12)
