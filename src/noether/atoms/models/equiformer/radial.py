"""Radial bases of the pair distance, the cosine cutoff, and the radial MLP of Equiformer.

- ``expnorm``: TorchMD-NET / PhysNet exponential-normal basis times a cosine cutoff (the paper's
  MD17 recipe, K=32, not trainable);
- ``gaussian``: Graphormer's learnable Gaussians of ``d / cutoff`` (the paper's QM9 recipe, K=128);
- ``bessel``: ``sqrt(2/c) sin(nπd/c)/d`` (e3nn's ``soft_one_hot_linspace(basis='bessel')``) times
  the cosine cutoff.

:class:`RadialMLP` maps a basis vector to the per-edge weights of a depth-wise tensor product:
``Linear → LayerNorm → SiLU → Linear → LayerNorm → SiLU → Linear (no bias) + offset``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# One ExpNormal basis and cosine cutoff for noether's attention potentials (ET's, the same maths).
from noether.atoms.models.et.radial import ExpNormalBasis, cosine_cutoff

__all__ = ["BASES", "ExpNormalBasis", "RadialMLP", "cosine_cutoff", "radial_basis"]

BASES = ("expnorm", "gaussian", "bessel")


class GaussianBasis(nn.Module):
    """Graphormer's learnable Gaussian densities of an affine map of ``d / cutoff``."""

    def __init__(self, n: int, cutoff: float):
        super().__init__()
        self.cutoff = cutoff
        self.mean = nn.Parameter(torch.rand(n))
        self.std = nn.Parameter(torch.empty(n).uniform_(1.0 / n, 1.0))
        self.weight = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, d: Tensor) -> Tensor:
        x = (d / self.cutoff).unsqueeze(-1) * self.weight + self.bias
        std = self.std.abs() + 1e-5
        return torch.exp(-0.5 * ((x - self.mean) / std).square()) / (math.sqrt(2 * math.pi) * std)


class BesselBasis(nn.Module):
    """``sqrt(2/c) sin(n π d / c) / d`` for ``n = 1..K``, times the cosine cutoff."""

    def __init__(self, n: int, cutoff: float):
        super().__init__()
        self.cutoff = cutoff
        self.register_buffer("freq", torch.arange(1, n + 1) * (math.pi / cutoff))

    def forward(self, d: Tensor) -> Tensor:
        d = d.unsqueeze(-1)
        safe = d.clamp(min=1e-9)
        return (
            math.sqrt(2.0 / self.cutoff)
            * torch.sin(self.freq * safe)
            / safe
            * cosine_cutoff(d, self.cutoff)
        )


def radial_basis(name: str, n: int, cutoff: float) -> nn.Module:
    """The basis ``name`` (one of :data:`BASES`) with ``n`` functions: ``(E,) -> (E, n)``."""
    if name == "expnorm":
        return ExpNormalBasis(n, cutoff)
    if name == "gaussian":
        return GaussianBasis(n, cutoff)
    if name == "bessel":
        return BesselBasis(n, cutoff)
    raise ValueError(f"unknown radial basis {name!r}; accepted: {', '.join(BASES)}")


class RadialMLP(nn.Module):
    """``(E, n_basis) -> (E, n_out)``: per-edge tensor-product weights from the distance basis."""

    def __init__(self, n_basis: int, hidden: list[int] | tuple[int, ...], n_out: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_basis
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, n_out, bias=False))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        bound = 1.0 / math.sqrt(width)
        self.offset = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, basis: Tensor) -> Tensor:
        return self.net(basis) + self.offset
