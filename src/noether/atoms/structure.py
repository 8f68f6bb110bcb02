"""Structural observables of molecular trajectories: bonds, bond lengths, angles, pair distances.

Used to compare an ML-potential trajectory with a reference one (structural fidelity): the
distributions of bond lengths, bond angles and of all intramolecular pair distances (the radial
distribution function of a single molecule), and the Wasserstein-1 distance between two such
distributions (in the observable's unit: Å or degrees). Positions in Å throughout.
"""

from __future__ import annotations

import numpy as np
from ase.data import covalent_radii

__all__ = [
    "bond_angles",
    "bond_lengths",
    "bonded_angles",
    "covalent_bonds",
    "pair_distances",
    "radial_distribution",
    "wasserstein",
]


def covalent_bonds(numbers: np.ndarray, distances: np.ndarray, scale: float = 1.25) -> np.ndarray:
    """``(B, 2)`` pairs ``i < j`` closer than ``scale`` times the sum of their covalent radii.

    ``numbers (N,)`` atomic numbers, ``distances (N, N)`` in Å.
    """
    radii = covalent_radii[np.asarray(numbers)]
    limit = scale * (radii[:, None] + radii[None, :])
    i, j = np.nonzero(np.triu(np.asarray(distances) < limit, k=1))
    return np.stack([i, j], axis=1)


def bonded_angles(bonds: np.ndarray, n_atoms: int) -> np.ndarray:
    """``(A, 3)`` triples ``(i, j, k)`` with ``i < k`` both bonded to the centre ``j``."""
    neighbours: list[list[int]] = [[] for _ in range(n_atoms)]
    for a, b in np.asarray(bonds).reshape(-1, 2):
        neighbours[a].append(int(b))
        neighbours[b].append(int(a))
    triples = [
        (i, j, k)
        for j, around in enumerate(neighbours)
        for x, i in enumerate(sorted(around))
        for k in sorted(around)[x + 1 :]
    ]
    return np.array(triples, dtype=np.int64).reshape(-1, 3)


def bond_lengths(positions: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """``positions (F, N, 3)`` Å -> ``(F, B)`` lengths of the given bonds, Å."""
    positions = np.asarray(positions, dtype=np.float64)
    bonds = np.asarray(bonds).reshape(-1, 2)
    return np.linalg.norm(positions[:, bonds[:, 1]] - positions[:, bonds[:, 0]], axis=-1)


def bond_angles(positions: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """``positions (F, N, 3)`` Å -> ``(F, A)`` angles i-j-k at ``j``, in degrees."""
    positions = np.asarray(positions, dtype=np.float64)
    triples = np.asarray(triples).reshape(-1, 3)
    u = positions[:, triples[:, 0]] - positions[:, triples[:, 1]]
    v = positions[:, triples[:, 2]] - positions[:, triples[:, 1]]
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def pair_distances(positions: np.ndarray) -> np.ndarray:
    """``positions (F, N, 3)`` Å -> ``(F, N(N-1)/2)`` all distances ``i < j``, Å."""
    positions = np.asarray(positions, dtype=np.float64)
    i, j = np.triu_indices(positions.shape[1], k=1)
    return np.linalg.norm(positions[:, j] - positions[:, i], axis=-1)


def radial_distribution(
    positions: np.ndarray, r_max: float = 8.0, bins: int = 160
) -> tuple[np.ndarray, np.ndarray]:
    """``(r (bins,), g (bins,))``: the intramolecular pair-distance density per shell volume,
    ``g(r) = h(r) / (4π r² Δr)`` with ``h`` the histogram of :func:`pair_distances` per frame and
    pair, normalised so that ``∫ g 4π r² dr = 1`` over ``[0, r_max]`` (pairs beyond it
    excluded). Shapes of two trajectories of the same molecule compare directly."""
    d = pair_distances(positions).ravel()
    edges = np.linspace(0.0, r_max, bins + 1)
    hist, _ = np.histogram(d, bins=edges)
    r = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    total = max(hist.sum(), 1)
    return r, hist / total / (4.0 * np.pi * r**2 * width)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between the empirical distributions of ``a`` and ``b`` (any
    shapes, flattened), in their unit; 0 for identical samples."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(np.ravel(a), np.ravel(b)))
