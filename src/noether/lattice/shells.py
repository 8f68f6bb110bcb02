"""The shell model: the energy of a spin field from couplings per distance shell.

    E[s] = E_0 - sum_n J_n sum_{<ij>_n} s_i . s_j

``<ij>_n`` runs over unordered site pairs in distance shell ``n >= 1`` (see
:class:`~noether.lattice.geometry.SquareLattice`). Fed the physical spins it is the linear
effective model of SLMC; fed the effective spins of the transformer it is that model's energy head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from noether.lattice.geometry import SquareLattice


def shell_features(spins: Tensor, shells: Tensor) -> Tensor:
    """``phi_n = sum_{<ij>_n} s_i . s_j`` for ``n = 1 .. K``: spins ``(..., N, 3)`` -> ``(..., K)``.

    shells: ``(K + 1, N, N)`` 0/1 adjacency matrices from ``SquareLattice.shell_matrices``.
    """
    gram = spins @ spins.transpose(-1, -2)
    return 0.5 * torch.einsum("nij,...ij->...n", shells[1:].to(spins.dtype), gram)


class ShellEnergy(nn.Module):
    """``E_0 - sum_n J_n phi_n(s)`` with learnable couplings ``J_n`` and constant ``E_0``.

    Input spins ``(..., N, 3)``; output energy ``(...)`` in the unit of the training targets.
    """

    def __init__(self, lattice: SquareLattice, n_shells: int | None = None) -> None:
        super().__init__()
        self.register_buffer("shells", lattice.shell_matrices(n_shells), persistent=False)
        k = self.shells.shape[0] - 1
        self.couplings = nn.Parameter(torch.zeros(k, dtype=torch.float64))
        self.offset = nn.Parameter(torch.zeros((), dtype=torch.float64))

    @property
    def n_shells(self) -> int:
        return self.couplings.shape[0]

    def features(self, spins: Tensor) -> Tensor:
        return shell_features(spins, self.shells)

    def forward(self, spins: Tensor) -> Tensor:
        return self.offset - self.features(spins) @ self.couplings

    @torch.no_grad()
    def fit_least_squares(self, spins: Tensor, energies: Tensor) -> float:
        """Set ``J_n`` and ``E_0`` to the least-squares fit of ``energies`` ``(M,)``; returns the MSE.

        spins: ``(M, N, 3)`` configurations (the effective spins when used as a head).
        """
        phi = self.features(spins.double())
        design = torch.cat([torch.ones_like(phi[:, :1]), -phi], dim=1)
        target = energies.double()
        # Solve on centred, scaled columns: the raw features differ by orders of magnitude.
        scale = design.std(0).clamp_min(1e-12)
        scale[0] = 1.0
        solution = torch.linalg.lstsq(design / scale, target[:, None], driver="gelsd").solution
        solution = solution[:, 0] / scale
        self.offset.copy_(solution[0])
        self.couplings.copy_(solution[1:])
        return float(((design @ solution - target) ** 2).mean())
