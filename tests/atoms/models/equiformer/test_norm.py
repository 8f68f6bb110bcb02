"""EquivariantLayerNorm: equivariant (e3nn's checker, float64) and normalised."""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant
from equiformer_testkit import E3, on_e3nn

from noether.atoms.models.equiformer import (
    EquivariantLayerNorm,
)


def test_layer_norm_equivariant_and_normalised(float64):
    irreps = E3[0]
    norm = EquivariantLayerNorm(irreps)
    f = on_e3nn(norm, norm.layout, norm.layout)
    assert_equivariant(f, irreps_in=[norm.irreps], irreps_out=[norm.irreps])
    exact = EquivariantLayerNorm(irreps, eps=0.0)
    x = 3.0 * torch.randn(5, norm.layout.dim) + 1.0
    for b, field in zip(exact.layout.blocks, exact.layout.split(exact(x))):
        if b.ir == o3.Irrep("0e"):
            assert field.mean(-1).abs().max() < 1e-12
        ms = field.square().mean(dim=(-2, -1))
        assert torch.allclose(ms, torch.ones_like(ms), atol=1e-12)
