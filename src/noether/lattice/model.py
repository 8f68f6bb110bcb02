"""The double-exchange (spin-fermion) model and its exact energy per spin configuration.

    H[S] = -t sum_<ij>,s (c+_is c_js + h.c.) + (J/2) sum_i S_i . (c+_i sigma c_i)

on an L x L periodic square lattice with classical unit spins ``S_i``. For fixed spins the fermions
are free: their one-body Hamiltonian is the ``2N x 2N`` Hermitian matrix ``h[S]`` (index ``2 i + s``),
and tracing them out in the grand-canonical ensemble gives the spin weight ``exp(-Omega[S] / T)`` with

    Omega[S] = -T sum_nu ln(1 + exp(-(eps_nu - mu) / T)),

``eps_nu`` the eigenvalues of ``h[S]``. Energies are in units of the hopping ``t`` (any unit, used
consistently); ``T`` is in the same unit (k_B = 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from noether.lattice.geometry import SquareLattice
from noether.lattice.spins import check_spins

_PAULI = torch.tensor(
    [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=torch.complex128
)


def grand_potential(eigenvalues: Tensor, mu: float, T: float) -> Tensor:
    """``-T sum ln(1 + exp(-(eps - mu)/T))`` over the last axis, stable for any ``|eps - mu| / T``.

    eigenvalues: ``(..., M)`` one-body energies. Returns ``(...)``. ``T`` must be positive.
    """
    x = -(eigenvalues - mu) / T
    return -T * torch.logaddexp(torch.zeros_like(x), x).sum(-1)


@dataclass(frozen=True)
class DoubleExchangeModel:
    """Parameters of the model: lattice size ``L``, hopping ``t``, coupling ``J``, ``mu``, ``T``."""

    L: int = 6
    t: float = 1.0
    J: float = 1.0
    mu: float = 0.0
    T: float = 0.1
    lattice: SquareLattice = field(init=False, repr=False, compare=False)
    _hopping: Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("t", "J", "mu", "T"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.T <= 0:
            raise ValueError(f"temperature T must be positive, got T={self.T!r}")
        object.__setattr__(self, "lattice", SquareLattice(self.L))
        hop = torch.kron(self.lattice.hopping_matrix(self.t), torch.eye(2, dtype=torch.float64))
        object.__setattr__(self, "_hopping", hop.to(torch.complex128))

    @property
    def n_sites(self) -> int:
        return self.L * self.L

    @property
    def beta(self) -> float:
        return 1.0 / self.T

    def with_temperature(self, T: float) -> DoubleExchangeModel:
        return DoubleExchangeModel(L=self.L, t=self.t, J=self.J, mu=self.mu, T=T)

    def hamiltonian(self, spins: Tensor) -> Tensor:
        """One-body matrix ``h[S]``: spins ``(..., N, 3)`` -> ``(..., 2N, 2N)`` complex128."""
        spins = check_spins(spins, self.n_sites)
        onsite = (
            0.5 * self.J * torch.einsum("...ia,abc->...ibc", spins.to(torch.complex128), _PAULI)
        )
        h = self._hopping.expand(*spins.shape[:-2], -1, -1).clone()
        n = self.n_sites
        blocks = h.view(*spins.shape[:-2], n, 2, n, 2)
        diag = torch.diagonal(blocks, dim1=-4, dim2=-2)  # (..., 2, 2, N): a view into h
        diag += onsite.movedim(-3, -1)
        return h

    def eigenvalues(self, spins: Tensor) -> Tensor:
        """Ascending one-body energies ``(..., 2N)`` of ``h[S]``."""
        return torch.linalg.eigvalsh(self.hamiltonian(spins))

    def energy(self, spins: Tensor) -> Tensor:
        """Exact ``Omega[S]`` ``(...)`` in float64 for spins ``(..., N, 3)`` (unit vectors)."""
        return grand_potential(self.eigenvalues(spins), self.mu, self.T)
