"""Dense molecule blocks (et/blocks.py): their layout, and the fused layers over them compute the
same function as over the edge list."""

from __future__ import annotations

import pytest
import torch
from et_testkit import (
    CUTOFF,
    assert_same_outputs_and_gradients,
    energy_forces,
    molecule,
    outputs_and_gradients,
    random_et,
)

from noether.atoms.models.et.blocks import molecule_blocks
from noether.atoms.models.et.pairs import unordered_pairs
from noether.atoms.potential import Graph
from noether.testing import check_e3, check_permutation


def frames(sizes=(5, 9, 1, 7), spread=2.2, dtype=torch.float64):
    """Frames of unequal sizes (padded blocks), spread so that some pairs lie beyond the cutoff."""
    parts = [molecule(n, seed=s, spread=spread, dtype=dtype) for s, n in enumerate(sizes)]
    numbers = torch.cat([z for z, _ in parts])
    positions = torch.cat([p for _, p in parts])
    batch = torch.cat([torch.full((n,), k) for k, n in enumerate(sizes)])
    return numbers, positions, batch


def run(model, layers: str, numbers, positions, batch=None):
    """Energies, forces and parameter gradients with the fused layers over ``layers``."""
    model.set_inference(layers)
    return outputs_and_gradients(model, numbers, positions, batch)


def test_blocks_equal_edge_list_with_padding_and_pairs_beyond_the_cutoff(monkeypatch):
    import noether.atoms.models.et.model as et_model

    built = []
    monkeypatch.setattr(
        et_model, "molecule_blocks", lambda *a: built.append(1) or molecule_blocks(*a)
    )
    model = random_et()
    numbers, positions, batch = frames()
    distances = torch.cdist(positions[batch == 1], positions[batch == 1])
    assert (distances > CUTOFF).any()  # absent pairs inside a block
    first = run(model, "blocks", numbers, positions, batch)
    assert_same_outputs_and_gradients(model, first, run(model, "fused", numbers, positions, batch))
    assert len(built) == 2  # the call with forces and the one for the parameter gradients


def test_blocks_follow_the_frames_not_their_order():
    """Frames given in a shuffled order of atoms give each atom the same energy and force."""
    model = random_et()
    numbers, positions, batch = frames()
    order = torch.randperm(len(numbers), generator=torch.Generator().manual_seed(1))
    model.set_inference("blocks")
    graph_order = torch.argsort(batch[order], stable=True)  # frames contiguous, atoms shuffled
    perm = order[graph_order]
    ref = model(numbers, positions, batch)
    out = model(numbers[perm], positions[perm], batch[perm])
    assert torch.allclose(out["energy"], ref["energy"], atol=1e-12, rtol=0)
    assert torch.allclose(out["forces"], ref["forces"][perm], atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_blocks_are_invariant_and_equivariant(dtype, tol):
    model = random_et(dtype).set_inference("blocks")
    numbers, positions = molecule(dtype=dtype)
    fn = energy_forces(model)
    err = check_e3(fn, (numbers, positions), ("scalar", "position"), ("scalar", "vector"))
    scale = model(numbers, positions)["forces"].abs().max().item()
    assert err < tol * max(1.0, scale)
    assert check_permutation(fn, (numbers, positions), (0, 0), (None, 0)) < tol


def test_blocks_forces_match_finite_differences():
    model = random_et().set_inference("blocks")
    numbers, positions, batch = frames(sizes=(4, 6), spread=1.5)
    forces = model(numbers, positions, batch)["forces"]
    h = 1e-5
    for atom, axis in [(0, 0), (3, 2), (5, 1), (9, 0)]:
        plus, minus = positions.clone(), positions.clone()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        e_plus = model(numbers, plus, batch, compute_forces=False)["energy"].sum()
        e_minus = model(numbers, minus, batch, compute_forces=False)["energy"].sum()
        numeric = -(e_plus - e_minus).item() / (2 * h)
        assert abs(numeric - float(forces[atom, axis])) < 1e-7


def _graph(numbers, positions, batch, cutoff):
    from noether.atoms.neighbors import neighbor_list

    n_graphs = int(batch.max()) + 1
    cell = torch.zeros(n_graphs, 3, 3, dtype=positions.dtype)
    pbc = torch.zeros(n_graphs, 3, dtype=torch.bool)
    edge_index, _ = neighbor_list(positions, cutoff, batch, cell, pbc)
    i, j = edge_index
    vectors = positions[j] - positions[i]
    return Graph(numbers, positions, batch, n_graphs, edge_index, vectors, cell, pbc)


def test_block_layout_holds_each_pair_in_both_directions_once():
    numbers, positions, batch = frames()
    graph = _graph(numbers, positions, batch, CUTOFF)
    pairs = unordered_pairs(graph)
    p = pairs.n_pairs
    phi = torch.rand(p, dtype=torch.float64)
    rbf = torch.rand(p, 3, dtype=torch.float64)
    rbf_self = torch.rand(len(numbers), 3, dtype=torch.float64)
    blocks = molecule_blocks(pairs, phi, rbf, rbf_self, batch, graph.n_graphs)
    assert (blocks.n_blocks, blocks.size) == (4, 9) and blocks.slots is not None
    # each pair twice (φ symmetric, r̂ antisymmetric), each atom's diagonal 1, the rest 0
    assert torch.equal(blocks.weight, blocks.weight.transpose(1, 2))
    assert torch.equal(blocks.unit, -blocks.unit.transpose(1, 2))
    assert blocks.weight.sum() == pytest.approx(float(2 * phi.sum() + len(numbers)))
    assert int((blocks.weight != 0).sum()) == 2 * p + len(numbers)
    # the triangle holds every pair's and atom's basis once, both directions read it
    assert blocks.rbf.sum() == pytest.approx(float(rbf.sum() + rbf_self.sum()))
    tri = blocks.rbf.view(4, -1, 3)[:, blocks.cell_triangle].view(4, 9, 9, 3)
    assert torch.equal(tri, tri.transpose(1, 2))
