"""EquivariantLinear: equivariant (e3nn's checker, float64) and scaled."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant
from equiformer_testkit import E3, SE3, on_e3nn

from noether.atoms.models.equiformer import (
    EquivariantLinear,
)


@pytest.mark.parametrize("irreps", [SE3[0], E3[0]])
def test_linear_equivariant_and_scaled(float64, irreps):
    lin = EquivariantLinear(irreps, "5x0e+2x1e+1x1o+3x2e+1x3e")
    f = on_e3nn(lin, lin.layout_in, lin.layout_out)
    assert_equivariant(f, irreps_in=[lin.layout_in.irreps], irreps_out=[lin.layout_out.irreps])
    x = torch.randn(3, lin.layout_in.dim)
    y = lin.layout_out.split(lin(x))
    assert torch.equal(y[-1], torch.zeros_like(y[-1]))  # 3e: no input path
    # a block is x @ W: the 1e block of the output from the 1e block of the input
    xb = lin.layout_in.split(x)[lin.layout_in._index[o3.Irrep("1e")]]
    w = lin.weights[next(k for k, (_, o) in enumerate(lin._paths) if o == 1)]
    assert torch.allclose(y[1], xb @ w)
