"""`EquivariantLayerNorm`: the paper's per-degree layer norm of irreps features.

For each irrep block of a node (``mul`` copies of a ``2l+1`` vector):

- ``0e`` blocks are centred over their channels;
- ``σ² = mean over channels and components of x²`` ("component" normalisation);
- ``x ← x / sqrt(σ² + ε) · γ_c`` with one ``γ`` per irrep copy, ``+ β_c`` for ``0e`` only.

Degrees are normalised separately and never mixed, so the map is equivariant.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.irreps import IrrepsLayout

__all__ = ["EquivariantLayerNorm"]


class EquivariantLayerNorm(nn.Module):
    """``forward(x (..., irreps.dim)) -> (..., irreps.dim)`` in the ir_mul layout."""

    def __init__(self, irreps: str | o3.Irreps, eps: float = 1e-5):
        super().__init__()
        self.layout = IrrepsLayout(irreps)
        self.irreps = self.layout.irreps
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.irreps.num_irreps))
        n_scalar = self.layout.scalar_dim()
        self.bias = nn.Parameter(torch.zeros(n_scalar)) if n_scalar else None

    def extra_repr(self) -> str:
        return f"{self.irreps}, eps={self.eps}"

    def forward(self, x: Tensor) -> Tensor:
        out, offset = [], 0
        for b, field in zip(self.layout.blocks, self.layout.split(x)):
            scalar = b.ir == o3.Irrep("0e")
            if scalar:
                field = field - field.mean(dim=-1, keepdim=True)
            var = field.square().mean(dim=(-2, -1), keepdim=True)
            gamma = self.weight[offset : offset + b.mul]
            offset += b.mul
            field = field * torch.rsqrt(var + self.eps) * gamma
            if scalar and self.bias is not None:
                field = field + self.bias
            out.append(field)
        return self.layout.join(out)
