import math

import pytest
import torch

from noether.lattice.geometry import SquareLattice, permute_sites


def test_six_by_six_has_nine_shells_of_the_expected_sizes():
    lattice = SquareLattice(6)
    assert lattice.n_shells == 9
    sizes = lattice.shell_matrices()[:, 0].sum(-1).long().tolist()
    # self, (1,0) (1,1) (2,0) (2,1) (2,2) (3,0) (3,1) (3,2) (3,3): (3,0) and (-3,0) are one site
    assert sizes == [1, 4, 4, 4, 8, 4, 2, 4, 4, 1]
    expected = [0, 1, 2, 4, 5, 8, 9, 10, 13, 18]
    assert lattice.shell_distances.square().round().long().tolist() == expected


@pytest.mark.parametrize("L", [2, 3, 4, 5])
def test_hopping_spectrum_is_the_cosine_band(L):
    lattice = SquareLattice(L)
    eigenvalues = torch.linalg.eigvalsh(lattice.hopping_matrix(t=1.0))
    k = 2 * math.pi * torch.arange(L, dtype=torch.float64) / L
    band = (-2 * (torch.cos(k)[:, None] + torch.cos(k)[None])).flatten().sort().values
    torch.testing.assert_close(eigenvalues, band, atol=1e-12, rtol=0)


def test_translations_and_point_group_preserve_shells():
    lattice = SquareLattice(5)
    maps = [lattice.translation(a, b) for a in range(5) for b in range(5)] + lattice.point_group()
    for perm in maps:
        assert sorted(perm.tolist()) == list(range(lattice.n_sites))
        assert torch.equal(lattice.shell_index[perm][:, perm], lattice.shell_index)
    assert len({tuple(p.tolist()) for p in lattice.point_group()}) == 8


def test_permute_sites_moves_site_i_to_perm_i():
    lattice = SquareLattice(3)
    spins = torch.randn(lattice.n_sites, 3)
    perm = lattice.translation(1, 2)
    moved = permute_sites(spins, perm)
    assert torch.equal(moved[perm], spins)


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True])
def test_lattice_size_below_two_is_an_error(bad):
    with pytest.raises(ValueError, match="integer >= 2"):
        SquareLattice(bad)
