"""The geometric MLP of a GATr block: bilinear, gated nonlinearity, linear."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from noether.gatr.layers.bilinear import GeometricBilinear
from noether.gatr.layers.linear import EquiLinear
from noether.gatr.primitives.nonlinearity import gated_gelu
from noether.gatr.variants import Variant

__all__ = ["GeoMLP"]


class GeoMLP(nn.Module):
    """``(x, s) -> (y, s')``: :class:`GeometricBilinear` to ``hidden`` channels, scalar-gated GELU
    (GELU on the scalars), :class:`EquiLinear` back. Internal layout; see the layers."""

    def __init__(
        self, variant: Variant, mv_channels: int, s_channels: int, hidden_mv: int, hidden_s: int
    ) -> None:
        super().__init__()
        self.bilinear = GeometricBilinear(variant, mv_channels, hidden_mv, s_channels, hidden_s)
        self.linear = EquiLinear(variant.algebra, hidden_mv, mv_channels, hidden_s, s_channels)

    def forward(
        self, x: Tensor, s: Tensor | None = None, pseudoscalar: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        h, hs = self.bilinear(x, s, pseudoscalar)
        return self.linear(gated_gelu(h), F.gelu(hs) if hs is not None else None)
