"""Gate: equivariant (e3nn's checker, float64) and its values."""

from __future__ import annotations

import pytest
import torch
from e3nn.util.test import assert_equivariant
from equiformer_testkit import E3, SE3, on_e3nn

from noether.atoms.models.equiformer import (
    Gate,
)


@pytest.mark.parametrize("irreps", [SE3[0], E3[0]])
def test_gate_equivariant(float64, irreps):
    gate = Gate(irreps)
    f = on_e3nn(gate, gate.layout_in, gate.layout_out)
    assert_equivariant(f, irreps_in=[gate.irreps_in], irreps_out=[gate.irreps_out])


def test_gate_values():
    gate = Gate("2x0e+1x1e")
    x = torch.tensor([[0.5, -1.0, 2.0, 1.0, 2.0, 3.0]])  # scalars (2), gate (1), vector (3)
    y = gate(x)
    silu = torch.nn.functional.silu(x[0, :2]) * gate.silu.c
    sig = torch.sigmoid(x[0, 2]) * gate.sigmoid.c
    assert torch.allclose(y[0, :2], silu)
    assert torch.allclose(y[0, 2:], sig * x[0, 3:])
