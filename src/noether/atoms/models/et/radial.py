"""Radial functions of the Equivariant Transformer: the cosine cutoff (from
:mod:`noether.atoms.cutoffs`, shared with the ZBL prior) and the ExpNormal basis.

Both are pure functions of pair distances ``r (…,)`` in Å; :class:`ExpNormalBasis` is a thin module
that holds the basis centres and widths (buffers, or parameters when trainable).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from noether.atoms.cutoffs import cosine_cutoff

__all__ = ["ExpNormalBasis", "cosine_cutoff", "expnormal"]


def expnormal(r: Tensor, means: Tensor, betas: Tensor, cutoff: float) -> Tensor:
    """``e_k(r) = φ(r) exp(-β_k (exp(-α r) - μ_k)²)`` with ``α = 5 / r_c``: ``(…,) -> (…, K)``.

    The PhysNet basis (Unke & Meuwly 2019) as used by TorchMD-NET: Gaussians in ``exp(-α r)``,
    dense at short range, each multiplied by the cosine cutoff ``φ``.
    """
    r = r.unsqueeze(-1)
    alpha = 5.0 / cutoff
    return cosine_cutoff(r, cutoff) * torch.exp(-betas * (torch.exp(-alpha * r) - means) ** 2)


class ExpNormalBasis(nn.Module):
    """``forward(r (…,) Å) -> (…, num_rbf)``, the :func:`expnormal` basis.

    Centres ``μ_k`` start evenly spaced from ``exp(-r_c)`` to 1 and widths at
    ``β = (2/K (1 - exp(-r_c)))⁻²`` (PhysNet's initial values, as TorchMD-NET).
    """

    def __init__(self, num_rbf: int, cutoff: float, trainable: bool = False):
        super().__init__()
        if num_rbf < 1:
            raise ValueError(f"num_rbf must be at least 1, got {num_rbf}")
        self.cutoff = float(cutoff)
        start = math.exp(-self.cutoff)
        means = torch.linspace(start, 1.0, num_rbf, dtype=torch.float64)
        betas = torch.full((num_rbf,), (2.0 / num_rbf * (1.0 - start)) ** -2, dtype=torch.float64)
        dtype = torch.get_default_dtype()
        if trainable:
            self.means = nn.Parameter(means.to(dtype))
            self.betas = nn.Parameter(betas.to(dtype))
        else:
            self.register_buffer("means", means.to(dtype))
            self.register_buffer("betas", betas.to(dtype))

    def forward(self, r: Tensor) -> Tensor:
        return expnormal(r, self.means, self.betas, self.cutoff)

    def extra_repr(self) -> str:
        return f"num_rbf={self.means.numel()}, cutoff={self.cutoff}"
