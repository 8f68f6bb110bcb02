"""Activations of irreps features: the gate, and second-moment-normalised scalar activations.

The gate takes ``scalars + gates + gated`` (see :func:`gate_irreps`): scalars go through SiLU,
every gated irrep copy is multiplied by the sigmoid of its own gate scalar. Both activations are
rescaled to unit second moment under a standard normal input (e3nn's ``normalize2mom``), as in
the paper.
"""

from __future__ import annotations

import functools

import torch
from e3nn import o3
from e3nn.math import normalize2mom
from torch import Tensor, nn

from noether.atoms.models.equiformer.irreps import IrrepsLayout, gate_irreps

__all__ = ["Gate", "NormalizedActivation", "activation_constant"]


@functools.cache
def activation_constant(name: str) -> float:
    """``c`` such that ``E[(c f(z))²] = 1`` for ``z ~ N(0, 1)``; ``name`` is 'silu' or 'sigmoid'."""
    f = {"silu": torch.nn.functional.silu, "sigmoid": torch.sigmoid}[name]
    return float(normalize2mom(f, dtype=torch.float64).cst)


class NormalizedActivation(nn.Module):
    """``c · f(x)`` elementwise (for scalar features only)."""

    def __init__(self, name: str = "silu"):
        super().__init__()
        self.name = name
        self.f = {"silu": torch.nn.functional.silu, "sigmoid": torch.sigmoid}[name]
        self.c = activation_constant(name)

    def forward(self, x: Tensor) -> Tensor:
        return self.f(x) * self.c


class Gate(nn.Module):
    """``forward(x (..., irreps_in.dim)) -> (..., irreps_out.dim)`` (ir_mul layout).

    Args:
        irreps_out: the irreps after the gate; the input irreps (``irreps_in``) have one extra
            ``0e`` gate per non-``0e`` irrep copy, placed after the scalars.
    """

    def __init__(self, irreps_out: str | o3.Irreps):
        super().__init__()
        scalars, gates, gated = gate_irreps(irreps_out)
        self.n_scalars, self.n_gates = scalars.dim, gates.dim
        self.layout_in = IrrepsLayout(
            o3.Irreps(f"{self.n_scalars + self.n_gates}x0e") + gated
            if self.n_scalars + self.n_gates
            else gated
        )
        self.layout_out = IrrepsLayout(irreps_out)
        self.irreps_in, self.irreps_out = self.layout_in.irreps, self.layout_out.irreps
        self.silu = NormalizedActivation("silu")
        self.sigmoid = NormalizedActivation("sigmoid")

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}"

    def forward(self, x: Tensor) -> Tensor:
        blocks = self.layout_in.split(x)
        if self.n_scalars + self.n_gates == 0:
            return x
        scalars, gates = blocks[0].split([self.n_scalars, self.n_gates], dim=-1)
        out = [self.silu(scalars)] if self.n_scalars else []
        gates = self.sigmoid(gates).split([f.shape[-1] for f in blocks[1:]], dim=-1)
        out += [field * g for field, g in zip(blocks[1:], gates)]
        return self.layout_out.join(out)
