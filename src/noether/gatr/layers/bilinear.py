"""The geometric bilinear layer: geometric product, plus the equivariant join where needed."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from noether.gatr.layers.linear import EquiLinear
from noether.gatr.primitives.bilinear import geometric_bilinear
from noether.gatr.variants import Variant

__all__ = ["GeometricBilinear"]


class GeometricBilinear(nn.Module):
    """``(x, s) -> (y, s')`` with ``y`` built from products of learned linear maps of ``x``.

    One :class:`EquiLinear` makes the left and right factors of ``out_mv // 2`` geometric
    products and ``out_mv - out_mv // 2`` equivariant joins (or ``out_mv`` geometric products
    when the variant has no join), as four groups of channels of one output; the products are
    concatenated and mixed, with the scalars, by an output :class:`EquiLinear`.

    Tensors in the internal layout: ``x: (dim, n, in_mv)``, ``s: (n, in_s)``;
    ``pseudoscalar: (n, 1)``, the reference for the join (see
    :func:`~noether.gatr.primitives.bilinear.equivariant_join`), needed when the variant joins.
    """

    def __init__(self, variant: Variant, in_mv: int, out_mv: int, in_s: int = 0, out_s: int = 0):
        super().__init__()
        self.variant = variant
        algebra = variant.algebra
        self.n_join = out_mv - out_mv // 2 if variant.join else 0
        self.n_gp = out_mv - self.n_join
        if self.n_gp < 1:
            raise ValueError(f"GeometricBilinear: out_mv must be >= 2 with a join, got {out_mv}")
        self.factors = EquiLinear(algebra, in_mv, 2 * (self.n_gp + self.n_join), in_s, 0)
        self.out = EquiLinear(algebra, out_mv, out_mv, in_s, out_s)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Left factors at the default scale; right factors ``1 + y`` with ``y`` at half the
        default scale (the reference GATr's ``almost_unit_scalar``), so every geometric product
        starts as its left factor plus a perturbation, ``x (1 + y) = x + x y``."""
        self.factors.reset_parameters()
        g, j = self.n_gp, self.n_join
        with torch.no_grad():
            for right in (slice(g, 2 * g), slice(2 * g + j, 2 * (g + j))):
                # EquiLinear's "unit_scalar" on these output channels only
                self.factors.weight[right] *= 0.5
                if self.factors.s_to_mv is not None:
                    self.factors.s_to_mv[right] *= 0.5
                self.factors.bias[right] = 1.0

    def forward(
        self, x: Tensor, s: Tensor | None = None, pseudoscalar: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        z, _ = self.factors(x, s)
        if self.n_join and pseudoscalar is None:
            raise ValueError(
                f"the {self.variant.name} bilinear layer needs the reference pseudoscalar for "
                f"its equivariant join"
            )
        y = geometric_bilinear(self.variant.algebra, z, pseudoscalar, self.n_gp, self.n_join)
        return self.out(y, s)
