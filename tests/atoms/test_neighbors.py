"""Neighbour lists against brute force (written here, and ASE's as a second opinion)."""

import itertools

import numpy as np
import pytest
import torch
from ase.neighborlist import primitive_neighbor_list

from noether.atoms.neighbors import edge_vectors, neighbor_list

try:
    import vesin  # noqa: F401

    HAVE_VESIN = True
except ImportError:
    HAVE_VESIN = False

METHODS = [
    "all_pairs",
    "cell_list",
    "auto",
    pytest.param("vesin", marks=pytest.mark.skipif(not HAVE_VESIN, reason="vesin not installed")),
]


def brute_force(pos, cell, pbc, cutoff, reach=2):
    """Every (i, j, shift) with |r_j - r_i + shift @ cell| < cutoff, by explicit loops."""
    ranges = [range(-reach, reach + 1) if p else [0] for p in pbc]
    out = set()
    for s in itertools.product(*ranges):
        t = np.array(s) @ cell
        d = np.linalg.norm(pos[None, :, :] + t - pos[:, None, :], axis=-1)
        for i, j in zip(*np.nonzero(d < cutoff)):
            if i != j or any(s):
                out.add((int(i), int(j), *s))
    return out


def as_set(edge, shifts):
    rows = np.concatenate([edge.T.numpy(), np.rint(shifts.numpy()).astype(int)], axis=1)
    found = [tuple(int(v) for v in r) for r in rows]
    assert len(found) == len(set(found)), "a pair is listed twice"
    return set(found)


def _case(seed, n, lengths, tilt, pbc, spread=(-0.2, 1.2)):
    rng = np.random.default_rng(seed)
    cell = np.diag(lengths) + tilt * rng.uniform(-1, 1, (3, 3))
    pos = rng.uniform(*spread, (n, 3)) @ cell  # some atoms outside the cell
    return pos, cell, np.array(pbc, bool)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("n", "lengths", "tilt", "pbc", "cutoff"),
    [
        (40, (7.0, 8.0, 9.0), 0.0, (1, 1, 1), 3.0),  # orthorhombic
        (40, (7.0, 8.0, 9.0), 2.0, (1, 1, 1), 3.0),  # triclinic
        (30, (6.0, 6.5, 7.0), 1.5, (1, 0, 1), 4.0),  # slab-like, mixed periodicity
        (12, (3.0, 3.5, 4.0), 1.0, (1, 1, 1), 4.5),  # cutoff beyond half the cell: many images
        (50, (16.0, 14.0, 15.0), 2.0, (1, 1, 1), 3.5),  # large enough for real cell-list bins
        (60, (15.0, 15.0, 15.0), 0.0, (0, 0, 0), 3.0),  # molecule
    ],
)
def test_identical_to_brute_force(method, n, lengths, tilt, pbc, cutoff):
    pos, cell, pbc = _case(n, n, lengths, tilt, pbc)
    expected = brute_force(pos, cell, pbc, cutoff)
    edge, shifts = neighbor_list(
        torch.tensor(pos), cutoff, cell=torch.tensor(cell), pbc=torch.tensor(pbc), method=method
    )
    assert as_set(edge, shifts) == expected
    i, j, s = primitive_neighbor_list("ijS", pbc, cell, pos, cutoff)
    assert set(zip(i.tolist(), j.tolist(), *s.T.tolist())) == expected


def test_cell_list_on_a_large_periodic_box_matches_ase():
    pos, cell, pbc = _case(7, 600, (22.0, 24.0, 21.0), 3.0, (1, 1, 1), spread=(0, 1))
    edge, shifts = neighbor_list(
        torch.tensor(pos), 4.0, cell=torch.tensor(cell), pbc=torch.tensor(pbc), method="cell_list"
    )
    i, j, s = primitive_neighbor_list("ijS", pbc, cell, pos, 4.0)
    assert as_set(edge, shifts) == set(zip(i.tolist(), j.tolist(), *s.T.tolist()))


def test_batch_of_molecules_and_periodic_frames():
    a, _, _ = _case(1, 20, (6.0, 6.0, 6.0), 0.0, (0, 0, 0))
    b, cell_b, pbc_b = _case(2, 25, (7.0, 8.0, 7.5), 1.0, (1, 1, 1))
    pos = torch.tensor(np.concatenate([a, b]))
    batch = torch.tensor([0] * 20 + [1] * 25)
    cell = torch.stack([torch.zeros(3, 3, dtype=torch.float64), torch.tensor(cell_b)])
    pbc = torch.tensor([[False] * 3, pbc_b.tolist()])
    edge, shifts = neighbor_list(pos, 3.0, batch, cell, pbc)
    first = edge[0] < 20
    assert (edge[1][first] < 20).all() and (edge[1][~first] >= 20).all()
    assert as_set(edge[:, first], shifts[first]) == brute_force(a, np.zeros((3, 3)), [0, 0, 0], 3.0)
    second = {(i - 20, j - 20, *s) for i, j, *s in as_set(edge[:, ~first], shifts[~first])}
    assert second == brute_force(b, cell_b, pbc_b, 3.0)
    vec = edge_vectors(pos, edge, shifts, cell, batch)
    assert vec.norm(dim=1).max() < 3.0


def test_molecule_batch_all_pairs_is_per_frame():
    rng = np.random.default_rng(0)
    sizes = [5, 1, 9, 4]
    pos = torch.tensor(rng.uniform(0, 3, (sum(sizes), 3)))
    batch = torch.repeat_interleave(torch.arange(4), torch.tensor(sizes))
    edge, shifts = neighbor_list(pos, 2.5, batch)
    assert torch.equal(batch[edge[0]], batch[edge[1]]) and not shifts.any()
    expected = set()
    start = 0
    for n in sizes:
        sub = brute_force(pos[start : start + n].numpy(), np.zeros((3, 3)), [0, 0, 0], 2.5)
        expected |= {(i + start, j + start, 0, 0, 0) for i, j, *_ in sub}
        start += n
    assert as_set(edge, shifts) == expected


def test_bad_input_names_the_problem():
    pos = torch.zeros(3, 3, dtype=torch.float64)
    pos[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"positions of atom 1 are \[0.0, 0.0, nan\]"):
        neighbor_list(pos, 2.0)
    with pytest.raises(ValueError, match=r"positions must have shape \(n_atoms, 3\)"):
        neighbor_list(torch.zeros(3, 2), 2.0)
    with pytest.raises(ValueError, match="cutoff must be a positive finite number"):
        neighbor_list(torch.zeros(3, 3), -1.0)
    with pytest.raises(ValueError, match="unknown neighbour-list method 'kd'"):
        neighbor_list(torch.zeros(3, 3), 1.0, method="kd")
    with pytest.raises(ValueError, match="batch must be sorted"):
        neighbor_list(torch.zeros(3, 3), 1.0, torch.tensor([0, 1, 0]))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("pbc", "cell"),
    [
        ((1, 1, 0), [[3.6, 0.4, 0.0], [0.3, 3.2, 0.0], [0.0, 0.0, 0.0]]),  # 2D, ASE's zero c
        ((1, 0, 0), [[3.0, 0.5, 0.2], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),  # 1D, a wire
        ((0, 1, 1), [[0.0, 0.0, 0.0], [0.2, 4.0, 0.0], [0.0, 1.0, 5.0]]),
    ],
)
def test_zero_vectors_along_non_periodic_axes(method, pbc, cell):
    rng = np.random.default_rng(3)
    pos, cell, pbc = rng.uniform(-2, 5, (15, 3)), np.array(cell), np.array(pbc, bool)
    edge, shifts = neighbor_list(
        torch.tensor(pos), 4.0, cell=torch.tensor(cell), pbc=torch.tensor(pbc), method=method
    )
    assert as_set(edge, shifts) == brute_force(pos, cell, pbc, 4.0, reach=4)


def test_dependent_periodic_vectors_are_refused():
    cell = torch.tensor([[3.0, 0, 0], [6.0, 0, 0], [0, 0, 5.0]])
    with pytest.raises(
        ValueError, match=r"frame 0: the periodic lattice vectors .* not independent"
    ):
        neighbor_list(torch.zeros(2, 3), 2.0, cell=cell, pbc=torch.tensor([True, True, False]))
