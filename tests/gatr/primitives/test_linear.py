"""The sparse equivariant linear map equals the dense basis contraction; the fused layer with
scalars equals its plain-autograd reference, with exact first and second derivatives."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import CGA, EGA, PGA, Algebra
from noether.gatr.primitives import from_internal, linear_plan, to_internal
from noether.gatr.primitives.linear import equi_linear, equi_linear_reference, equivariant_linear

ALGEBRAS = [EGA, PGA, CGA, Algebra(2, 0, 2)]


@pytest.mark.parametrize("alg", ALGEBRAS, ids=str)
def test_matches_dense_basis(alg, float64):
    basis = alg.equivariant_linear_basis()
    x = torch.randn(2, 3, 4, alg.dim)
    weight = torch.randn(5, 4, basis.shape[0])
    dense = torch.einsum("oia,akj,btij->btok", weight, basis, x)
    ours = from_internal(alg, equivariant_linear(alg, to_internal(alg, x), weight), (2, 3))
    assert (ours - dense).abs().max() < 1e-12


def test_plan_structure():
    assert linear_plan(PGA).nnz == 24 and linear_plan(PGA).shifted
    assert linear_plan(EGA).nnz == 8 and not linear_plan(EGA).off_pairs
    assert not linear_plan(Algebra(2, 0, 2)).shifted  # the generic gather path


@pytest.mark.parametrize("alg", ALGEBRAS, ids=str)
def test_fused_with_scalars(alg, float64):
    nb = alg.linear_basis.n_basis
    x = torch.randn(alg.dim, 2, 2, requires_grad=True)
    s = torch.randn(2, 2, requires_grad=True)
    params = [torch.randn(2, 2, nb), torch.randn(2), torch.randn(2, 2)]
    params += [torch.randn(3, 2), torch.randn(3, 2), torch.randn(3)]
    params = [p.requires_grad_() for p in params]

    def fused(x, s, *p):
        return equi_linear(alg, x, s, *p)

    for a, b in zip(fused(x, s, *params), equi_linear_reference(alg, x, s, *params)):
        assert (a - b).abs().max() < 1e-12
    assert torch.autograd.gradcheck(fused, (x, s, *params), fast_mode=True)
    if alg in (EGA, PGA):  # the second derivative differentiates the reference: one code path
        assert torch.autograd.gradgradcheck(fused, (x, s, *params), fast_mode=True)


def test_fused_without_scalars(float64):
    x = torch.randn(16, 4, 3, requires_grad=True)
    w = torch.randn(2, 3, 9, requires_grad=True)
    y, s = equi_linear(PGA, x, None, w)
    assert s is None and y.shape == (16, 4, 2)
    assert torch.autograd.gradcheck(
        lambda x, w: equi_linear(PGA, x, None, w)[0], (x, w), fast_mode=True
    )
