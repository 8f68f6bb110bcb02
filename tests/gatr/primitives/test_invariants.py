"""Distance features give squared distances; norm, gate and dropout are exact and equivariant."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import CGA, EGA, PGA, pga, pin_sample
from noether.gatr.primitives import (
    distance_features,
    from_internal,
    grade_dropout,
    inner_product,
    layout,
    to_internal,
)
from noether.gatr.primitives.nonlinearity import gated_gelu, gated_gelu_reference
from noether.gatr.primitives.normalization import (
    equivariant_layer_norm,
    equivariant_layer_norm_reference,
)
from noether.testing import equivariance_error


def test_layout():
    lay = layout(PGA)
    assert lay.order == (0, 2, 3, 4, 8, 9, 10, 14, 1, 5, 6, 7, 11, 12, 13, 15)
    assert lay.n_nondegenerate == 8 and lay.pseudoscalar == 7 and lay.euclidean_metric
    assert layout(EGA).order == tuple(range(8)) and not layout(CGA).euclidean_metric
    x = torch.randn(2, 3, 4, 16)
    assert torch.equal(from_internal(PGA, to_internal(PGA, x), (2, 3)), x)


def test_distance_features_are_squared_distances(float64):
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    eps = 1e-3
    pa, pb = (
        to_internal(PGA, pga.embed_point(a)[:, None]),
        to_internal(PGA, pga.embed_point(b)[:, None]),
    )
    q, _ = distance_features(PGA, pa, eps)
    _, k = distance_features(PGA, pb, eps)
    expected = -((a - b) ** 2).sum(-1) / (1 + eps) ** 4  # w = 1: w~ = t~/x = 1/(1 + eps)
    assert ((q * k).sum(0)[:, 0] - expected).abs().max() < 1e-12


@pytest.mark.parametrize("alg", [EGA, PGA, CGA], ids=str)
def test_inner_product(alg, float64):
    x, y = torch.randn(4, 3, alg.dim), torch.randn(4, 3, alg.dim)
    ours = inner_product(alg, to_internal(alg, x), to_internal(alg, y))
    assert (ours - alg.inner_product(x, y).reshape(4 * 3 // 3, 3)).abs().max() < 1e-12


@pytest.mark.parametrize("alg", [EGA, PGA, CGA], ids=str)
def test_layer_norm(alg, float64):
    x = torch.randn(alg.dim, 3, 2, requires_grad=True)

    def norm(x):
        return equivariant_layer_norm(alg, x, 0.01)

    assert (norm(x) - equivariant_layer_norm_reference(alg, x)).abs().max() < 1e-14
    assert torch.autograd.gradcheck(norm, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(norm, ((1e-2 * x).detach().requires_grad_(),), fast_mode=True)
    if alg == PGA:
        assert torch.autograd.gradgradcheck(norm, (x,), fast_mode=True)
    canonical = lambda mv: from_internal(alg, norm(to_internal(alg, mv)), (4,))  # noqa: E731
    assert equivariance_error(canonical, (torch.randn(4, 2, alg.dim),), pin_sample(alg)) < 1e-10


def test_gated_gelu(float64):
    x = torch.randn(16, 3, 2, requires_grad=True)
    assert (gated_gelu(x) - gated_gelu_reference(x)).abs().max() == 0
    assert torch.autograd.gradcheck(gated_gelu, (x,), fast_mode=True)
    assert torch.autograd.gradgradcheck(gated_gelu, (x,), fast_mode=True)


def test_grade_dropout(float64):
    x = torch.randn(16, 2000, 4)
    assert grade_dropout(PGA, x, 0.5, training=False) is x
    y = grade_dropout(PGA, x, 0.5)
    kept = y != 0
    grades = torch.tensor(layout(PGA).grades)
    for g in range(5):  # a grade is kept or dropped as a whole, scaled by 1 / (1 - p)
        block = kept[grades == g]
        assert (block == block[:1]).all()
    assert 0.45 < kept.double().mean() < 0.55
    assert torch.allclose(y[kept], 2 * x[kept])


def test_layer_norm_degenerate_directions(float64):
    """Tokens whose multivectors live in the degenerate directions (PGA: blades with ``e0``) have
    a zero invariant norm; the floor ``eps`` keeps output and gradients finite and bounded."""
    lay = layout(PGA)
    x = torch.zeros(16, 3, 2)
    x[lay.n_nondegenerate :] = 1e3 * torch.randn(16 - lay.n_nondegenerate, 3, 2)
    x[:, 2] = torch.randn(16, 2)  # one ordinary token alongside
    x.requires_grad_()
    y = equivariant_layer_norm(PGA, x, 0.01)
    # divided by sqrt(eps), not by the vanishing norm
    assert ((y[:, :2] - 10 * x[:, :2]).abs() <= 1e-12 * x.abs().max()).all()
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.autograd.gradcheck(
        lambda x: equivariant_layer_norm(PGA, x, 0.01),
        (x.detach()[:, :2].clone().requires_grad_(),),
    )
