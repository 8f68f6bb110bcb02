"""The L x L square lattice with periodic boundaries: sites, distance shells and symmetry maps.

Sites are numbered ``i = x * L + y`` with ``x, y`` in ``0 .. L-1``. Displacements use the minimum
image, ``dx`` in ``(-L/2, L/2]``. A *distance shell* ``n >= 1`` holds the site pairs at the n-th
smallest non-zero minimum-image distance; shell 0 is the site itself. Shells are unions of orbits of
the square's symmetry group (translations and D4), so any function of the shell index is invariant
under all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass(frozen=True)
class SquareLattice:
    """Geometry of an ``L x L`` periodic square lattice (``L >= 2``)."""

    L: int
    shell_index: Tensor = field(init=False, repr=False, compare=False)
    shell_distances: Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.L, int) or isinstance(self.L, bool) or self.L < 2:
            raise ValueError(f"lattice size L must be an integer >= 2, got {self.L!r}")
        coords = self.coordinates()
        d = coords[:, None, :] - coords[None, :, :]
        d = (d + (self.L - 1) // 2) % self.L - (self.L - 1) // 2  # minimum image in (-L/2, L/2]
        r2 = (d**2).sum(-1)
        values, index = torch.unique(r2, sorted=True, return_inverse=True)
        object.__setattr__(self, "shell_index", index)
        object.__setattr__(self, "shell_distances", values.double().sqrt())

    @property
    def n_sites(self) -> int:
        return self.L * self.L

    @property
    def n_shells(self) -> int:
        """Number of non-zero distance shells (9 on 6 x 6)."""
        return len(self.shell_distances) - 1

    def coordinates(self) -> Tensor:
        """Integer site coordinates ``(N, 2)``."""
        r = torch.arange(self.L)
        return torch.stack(torch.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)

    def shell_matrices(
        self, n_shells: int | None = None, dtype: torch.dtype = torch.float64
    ) -> Tensor:
        """Adjacency matrices of the shells ``0 .. n_shells``: ``(n_shells + 1, N, N)`` of 0/1.

        Shell 0 is the identity; a pair appears once per shell however many images connect it.
        """
        n = self.n_shells if n_shells is None else n_shells
        if not 0 <= n <= self.n_shells:
            raise ValueError(f"n_shells must be in 0 .. {self.n_shells} for L={self.L}, got {n}")
        shells = torch.arange(n + 1)
        return (self.shell_index[None] == shells[:, None, None]).to(dtype)

    def hopping_matrix(self, t: float = 1.0, dtype: torch.dtype = torch.float64) -> Tensor:
        """Nearest-neighbour hopping ``-t`` summed over the four bond directions, ``(N, N)``.

        On ``L = 2`` the left and right bonds join the same pair, which then hops with ``-2t``; the
        spectrum is ``-2t (cos kx + cos ky)`` for every ``L``.
        """
        coords = self.coordinates()
        h = torch.zeros(self.n_sites, self.n_sites, dtype=dtype)
        rows = torch.arange(self.n_sites)
        for step in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            cols = self.site_index(coords + torch.tensor(step))
            h.index_put_(
                (rows, cols), torch.full((self.n_sites,), -t, dtype=dtype), accumulate=True
            )
        return h

    def site_index(self, coords: Tensor) -> Tensor:
        """Site numbers of integer coordinates ``(..., 2)``, wrapped periodically."""
        c = coords % self.L
        return c[..., 0] * self.L + c[..., 1]

    def translation(self, a: int, b: int) -> Tensor:
        """Permutation ``p`` ``(N,)`` with site ``i`` moved to ``p[i]`` by the shift ``(a, b)``."""
        return self.site_index(self.coordinates() + torch.tensor([a, b]))

    def point_group(self) -> list[Tensor]:
        """The 8 permutations of D4 about site 0: rotations by 90 degrees and reflections."""
        x, y = self.coordinates().unbind(-1)
        maps = []
        for k in range(4):
            for flip in (False, True):
                u, v = (x, -y) if flip else (x, y)
                for _ in range(k):
                    u, v = -v, u
                maps.append(self.site_index(torch.stack([u, v], -1)))
        return maps


def permute_sites(spins: Tensor, perm: Tensor) -> Tensor:
    """Move the spin of site ``i`` to site ``perm[i]``: spins ``(..., N, 3)``."""
    out = torch.empty_like(spins)
    out[..., perm, :] = spins
    return out
