"""Equiformer's irreps layout: round trips, sorting, widths and the gate's split."""

from __future__ import annotations

import pytest
import torch

from noether.atoms.models.equiformer import (
    IrrepsLayout,
)
from noether.atoms.models.equiformer.irreps import gate_irreps, sorted_irreps


def test_layout_round_trip_and_sorting():
    layout = IrrepsLayout("2x1e+3x0e+1x2o+1x0o+2x0e")
    assert str(layout.irreps) == "5x0e+1x0o+2x1e+1x2o"
    x = torch.randn(4, layout.dim)
    assert torch.equal(layout.to_e3nn(layout.from_e3nn(x)), x)
    assert torch.equal(layout.join(layout.split(x)), x)
    # the 1e block: e3nn keeps (mul, 3), we keep (3, mul)
    b = layout.block("1e")
    e3 = layout.to_e3nn(x)[:, 6:12].view(4, 2, 3)
    assert torch.equal(e3.transpose(1, 2), x[:, b.start : b.stop].view(4, 3, 2))


def test_layout_rejects_wrong_width():
    with pytest.raises(ValueError, match="width 15"):
        IrrepsLayout("3x0e+1x0o+2x1e+1x2o").split(torch.zeros(2, 14))


def test_gate_irreps_split():
    scalars, gates, gated = gate_irreps("128x0e+32x0o+32x1e+16x2e")
    assert (str(scalars), str(gates), str(gated)) == ("128x0e", "80x0e", "32x0o+32x1e+16x2e")
    assert str(sorted_irreps("1x1o+2x0e+1x1e+3x0e")) == "5x0e+1x1e+1x1o"
