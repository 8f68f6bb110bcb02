"""Every layer commutes with the Pin group (random versors of both parities) in float64."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import pin_sample
from noether.gatr.layers import (
    EquiLayerNorm,
    EquiLinear,
    GATrBlock,
    GeometricAttention,
    GeometricBilinear,
    GeoMLP,
)
from noether.gatr.primitives import from_internal, to_internal
from noether.gatr.variants import resolve_variant
from noether.testing import equivariance_error

B, T = 2, 3


def _check(variant, call, channels: int = 3, s_channels: int = 2) -> float:
    """Equivariance error of ``call(x, s, context, pseudoscalar) -> (y, s')`` on canonical
    multivectors ``(B * T, channels, dim)``, with a context ``(B * 2, channels, dim)`` and a
    reference multivector that transform too."""
    alg = variant.algebra
    mv = torch.randn(B * T, channels, alg.dim)
    s = torch.randn(B * T, s_channels)
    context = torch.randn(B * 2, channels, alg.dim)
    reference = torch.randn(alg.dim)

    def fn(mv, s, context, reference):
        ps = reference[alg.nondegenerate_pseudoscalar_index].expand(B * T, 1)
        y, ys = call(to_internal(alg, mv), s, (to_internal(alg, context), None), ps)
        return from_internal(alg, y, (B * T,)), ys

    actions = ("multivector", "scalar", "multivector", "multivector")
    sample = pin_sample(alg, actions, ("multivector", "scalar"))
    return equivariance_error(fn, (mv, s, context, reference), sample)


@pytest.mark.parametrize("name", ["ega", "pga", "ipga", "cga"])
def test_layers_are_equivariant(name, float64):
    v = resolve_variant(name)
    alg = v.algebra
    linear = EquiLinear(alg, 3, 4, 2, 5)
    assert _check(v, lambda x, s, c, p: linear(x, s)) < 1e-12
    norm = EquiLayerNorm(alg)
    assert _check(v, lambda x, s, c, p: norm(x, s)) < 1e-12
    bilinear = GeometricBilinear(v, 3, 4, 2, 5)
    assert _check(v, lambda x, s, c, p: bilinear(x, s, p)) < 1e-10
    mlp = GeoMLP(v, 3, 2, 6, 4)
    assert _check(v, lambda x, s, c, p: mlp(x, s, p)) < 1e-10
    attention = GeometricAttention(v, 3, 2, 2, 2, 1)
    assert _check(v, lambda x, s, c, p: attention(x, s, batch=B)) < 1e-10
    cross = GeometricAttention(v, 3, 2, 2, 2, 0, multi_query=True, context_mv=3)
    assert _check(v, lambda x, s, c, p: cross(x, s, batch=B, context=c)) < 1e-10
    block = GATrBlock(v, 3, 2, 2, 2, 1, context_mv=3, multi_query=True)
    assert _check(v, lambda x, s, c, p: block(x, s, batch=B, context=c, pseudoscalar=p)) < 1e-10


def test_layer_errors():
    v = resolve_variant("pga")
    with pytest.raises(ValueError, match="in_mv must be an int >= 1, got 0"):
        EquiLinear(v.algebra, 0, 2)
    with pytest.raises(ValueError, match="expects 2 scalar channels"):
        EquiLinear(v.algebra, 1, 1, 2, 0)(torch.randn(16, 3, 1))
    with pytest.raises(ValueError, match="eps must be positive"):
        EquiLayerNorm(v.algebra, 0.0)
    with pytest.raises(ValueError, match="head_s > 0 needs scalar channels"):
        GeometricAttention(v, 2, 0, 2, 1, 4)
    with pytest.raises(ValueError, match="needs the reference pseudoscalar"):
        GeometricBilinear(v, 2, 2)(torch.randn(16, 3, 2))
    with pytest.raises(ValueError, match="unknown checkpoint part"):
        GATrBlock(v, 2, 0, 1, 1, 0, checkpoint=("mlp", "norm"))
    with pytest.raises(ValueError, match="cross-attention needs a context"):
        GeometricAttention(v, 2, 0, 1, 1, 0, context_mv=2)(torch.randn(16, 3, 2), None, batch=1)
