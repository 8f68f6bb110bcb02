"""Readouts from ET's per-atom features to one scalar per atom.

:class:`GatedEquivariantHead` is TorchMD-NET's ``EquivariantScalar``: two gated equivariant blocks
(Schütt et al. 2021, PaiNN) that mix vector norms into the scalars, ``H -> H/2 -> 1``.
:class:`ScalarHead` is an MLP on the scalars alone, ``H -> H/2 -> 1``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["MLP", "GatedEquivariantBlock", "GatedEquivariantHead", "ScalarHead", "safe_norm"]


def safe_norm(v: Tensor, dim: int) -> Tensor:
    """Euclidean norm along ``dim`` whose gradients (of any order) are 0, not NaN, at 0."""
    sq = v.square().sum(dim)
    nonzero = sq > 0
    return torch.where(nonzero, torch.where(nonzero, sq, 1.0).sqrt(), 0.0)


class MLP(nn.Module):
    """``Linear(n_in, n_hidden) -> act -> Linear(n_hidden, n_out)``, Xavier weights, zero biases."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, act: Callable[[Tensor], Tensor]):
        super().__init__()
        self.act = act
        self.inner = nn.Linear(n_in, n_hidden)
        self.outer = nn.Linear(n_hidden, n_out)
        for layer in (self.inner, self.outer):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.outer(self.act(self.inner(x)))


class GatedEquivariantBlock(nn.Module):
    """``(x (N, C_in), v (N, 3, C_in)) -> (x (N, C_out), v (N, 3, C_out) or None)``.

    ``[x ‖ |W₁v|] -> MLP -> (x', g)``, ``v' = g ⊙ W₂v``. With ``vectors_out=False`` the vector
    output (unused by an energy readout) and its projection do not exist.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        act: Callable[[Tensor], Tensor],
        *,
        hidden: int | None = None,
        scalar_activation: bool = False,
        vectors_out: bool = True,
    ):
        super().__init__()
        self.n_out = n_out
        self.act = act
        self.scalar_activation = scalar_activation
        self.vec1 = nn.Linear(n_in, n_in, bias=False)
        nn.init.xavier_uniform_(self.vec1.weight)
        self.vec2 = nn.Linear(n_in, n_out, bias=False) if vectors_out else None
        if self.vec2 is not None:
            nn.init.xavier_uniform_(self.vec2.weight)
        self.mlp = MLP(2 * n_in, n_in if hidden is None else hidden, 2 * n_out, act)

    def forward(self, x: Tensor, v: Tensor) -> tuple[Tensor, Tensor | None]:
        norms = safe_norm(self.vec1(v), dim=1)
        x, gate = self.mlp(torch.cat([x, norms], dim=-1)).split(self.n_out, dim=-1)
        if self.scalar_activation:
            x = self.act(x)
        if self.vec2 is None:
            return x, None
        return x, gate.unsqueeze(1) * self.vec2(v)


class GatedEquivariantHead(nn.Module):
    """``(x (N, H), v (N, 3, H)) -> (N,)``: blocks ``H -> H/2`` (SiLU on scalars) then ``H/2 -> 1``."""

    def __init__(self, hidden: int, act: Callable[[Tensor], Tensor]):
        super().__init__()
        half = hidden // 2
        self.blocks = nn.ModuleList(
            [
                GatedEquivariantBlock(hidden, half, act, scalar_activation=True),
                GatedEquivariantBlock(half, 1, act, vectors_out=False),
            ]
        )

    def forward(self, x: Tensor, v: Tensor) -> Tensor:
        x, v = self.blocks[0](x, v)
        x, _ = self.blocks[1](x, v)
        return x.squeeze(-1)


class ScalarHead(nn.Module):
    """``(x (N, H), v) -> (N,)``: ``Linear(H, H/2) -> act -> Linear(H/2, 1)`` on the scalars."""

    def __init__(self, hidden: int, act: Callable[[Tensor], Tensor]):
        super().__init__()
        self.mlp = MLP(hidden, hidden // 2, 1, act)

    def forward(self, x: Tensor, v: Tensor) -> Tensor:
        return self.mlp(x).squeeze(-1)
