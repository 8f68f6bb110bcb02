"""`EquivariantLinear`: one weight matrix per irrep, shared across the 2l+1 components.

``y_l[m, w] = Σ_u x_l[m, u] W_l[u, w] (+ b_w for 0e)``: a plain matmul per block in the ``ir_mul``
layout, not a tensor product with a dummy ``1x0e`` input. As in the paper's ``LinearRS`` the
weights start as ``N(0, 1/fan_in)`` (the scale lives in the weights, like ``torch.nn.Linear``), and
only ``0e`` outputs get a bias (zeros at start). An output irrep absent from the input is zero.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.irreps import IrrepsLayout

__all__ = ["EquivariantLinear"]

_SCALAR = o3.Irrep("0e")


class EquivariantLinear(nn.Module):
    """``forward(x (..., irreps_in.dim)) -> (..., irreps_out.dim)``, both in the ir_mul layout."""

    def __init__(self, irreps_in: str | o3.Irreps, irreps_out: str | o3.Irreps, bias: bool = True):
        super().__init__()
        self.layout_in = IrrepsLayout(irreps_in)
        self.layout_out = IrrepsLayout(irreps_out)
        self.irreps_in, self.irreps_out = self.layout_in.irreps, self.layout_out.irreps
        self.weights = nn.ParameterList()
        self._paths: list[tuple[int, int]] = []  # (input block, output block) per weight
        for k_out, b_out in enumerate(self.layout_out.blocks):
            if b_out.ir in self.layout_in:
                k_in = self.layout_in._index[b_out.ir]
                fan_in = self.layout_in.blocks[k_in].mul
                w = torch.randn(fan_in, b_out.mul) / math.sqrt(fan_in)
                self.weights.append(nn.Parameter(w))
                self._paths.append((k_in, k_out))
        self.bias = None
        if bias and _SCALAR in self.layout_out:
            self.bias = nn.Parameter(torch.zeros(self.layout_out.block(_SCALAR).mul))
        self._bias_block = self.layout_out._index.get(_SCALAR, -1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}, bias={self.bias is not None}"

    def forward(self, x: Tensor) -> Tensor:
        blocks = self.layout_in.split(x)
        out: list[Tensor | None] = [None] * len(self.layout_out.blocks)
        for (k_in, k_out), w in zip(self._paths, self.weights):
            out[k_out] = torch.matmul(blocks[k_in], w)
        lead = x.shape[:-1]
        for k, b in enumerate(self.layout_out.blocks):
            if out[k] is None:
                out[k] = x.new_zeros(*lead, b.ir.dim, b.mul)
        if self.bias is not None:
            out[self._bias_block] = out[self._bias_block] + self.bias
        return self.layout_out.join(out)  # type: ignore[arg-type]
