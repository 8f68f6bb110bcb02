"""Products in the internal layout equal the algebra's; the fused bilinear equals its reference."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import CGA, EGA, PGA, kernels
from noether.gatr import primitives
from noether.gatr.primitives import from_internal, geometric_product, join, to_internal
from noether.gatr.primitives.bilinear import geometric_bilinear, geometric_bilinear_reference
from noether.gatr.primitives.layout import layout


@pytest.mark.parametrize("alg", [EGA, PGA, CGA], ids=str)
def test_products_match_algebra(alg, float64):
    x, y = torch.randn(2, 6, 3, alg.dim), torch.randn(2, 6, 3, alg.dim)
    xi, yi = to_internal(alg, x), to_internal(alg, y)
    back = lambda t: from_internal(alg, t, (2, 6))  # noqa: E731
    assert (back(geometric_product(alg, xi, yi)) - alg.geometric_product(x, y)).abs().max() < 1e-12
    if alg.r <= 1:
        assert (back(join(alg, xi, yi)) - alg.join(x, y)).abs().max() < 1e-12


@pytest.mark.parametrize(
    ("alg", "n_gp", "n_join"), [(PGA, 1, 2), (EGA, 2, 0), (CGA, 1, 0)], ids=str
)
def test_fused_bilinear(alg, n_gp, n_join, float64):
    z = torch.randn(alg.dim, 2, 2 * (n_gp + n_join), requires_grad=True)
    ps = torch.randn(2, 1, requires_grad=True) if n_join else None

    def fused(z, ps):
        return geometric_bilinear(alg, z, ps, n_gp, n_join)

    assert (
        fused(z, ps) - geometric_bilinear_reference(alg, z, ps, n_gp, n_join)
    ).abs().max() < 1e-12
    assert torch.autograd.gradcheck(fused, (z, ps), fast_mode=True)
    if alg in (EGA, PGA):  # the second derivative differentiates the reference: one code path
        assert torch.autograd.gradgradcheck(fused, (z, ps), fast_mode=True)


def test_equivariant_join_matches_algebra(float64):
    x, y, ref = torch.randn(5, 2, 16), torch.randn(5, 2, 16), torch.randn(5, 16)
    z = torch.cat(
        [to_internal(PGA, x), to_internal(PGA, x), to_internal(PGA, x), to_internal(PGA, y)], -1
    )
    ps = ref[:, PGA.nondegenerate_pseudoscalar_index, None]
    out = from_internal(PGA, geometric_bilinear(PGA, z, ps, 2, 2), (5,))
    assert (out[..., 2:, :] - PGA.equivariant_join(x, y, ref[:, None])).abs().max() < 1e-12


def test_errors():
    with pytest.raises(ValueError, match="2 \\* \\(n_gp \\+ n_join\\) = 6 channels, got 4"):
        geometric_bilinear(PGA, torch.randn(16, 3, 4), torch.randn(3, 1), 1, 2)
    with pytest.raises(ValueError, match="reference pseudoscalar"):
        geometric_bilinear(PGA, torch.randn(16, 3, 4), None, 1, 1)


def test_gatr_calls_the_algebra_kernels():
    """One engine: GATr's products and linear maps are the algebra's kernels in another layout."""
    assert primitives.sparse_bilinear is kernels.sparse_bilinear
    assert primitives.linear_plan(PGA) is PGA.linear_basis.plan(layout(PGA).position)
