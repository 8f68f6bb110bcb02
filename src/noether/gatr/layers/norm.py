"""Equivariant layer normalisation of multivector and scalar channels."""

from __future__ import annotations

from torch import Tensor, nn

from noether.algebra import Algebra
from noether.gatr.primitives.normalization import equivariant_layer_norm, scalar_layer_norm

__all__ = ["EquiLayerNorm"]


class EquiLayerNorm(nn.Module):
    """``(x, s) -> (x / sqrt(max(mean_c |<x_c,x_c>|, eps)), layer_norm(s))``; no parameters.

    ``x: (dim, n, c)`` internal layout, ``s: (n, c_s)`` or ``None``.
    """

    def __init__(self, algebra: Algebra, eps: float = 0.01) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"EquiLayerNorm: eps must be positive, got {eps}")
        self.algebra, self.eps = algebra, eps

    def forward(self, x: Tensor, s: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        x = equivariant_layer_norm(self.algebra, x, self.eps)
        return x, (scalar_layer_norm(s) if s is not None else None)

    def extra_repr(self) -> str:
        return f"{self.algebra}, eps={self.eps}"
