"""The basis of Pin-equivariant linear maps and the sparse equivariant linear map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noether.algebra import CGA, EGA, PGA, Algebra, equivariant_linear, pin_sample
from noether.testing import equivariance_error

# Known counts: grade projections (n + 1) for non-degenerate algebras (GATr paper 2: EGA 4, CGA 6;
# L-GATr: 5 for the full Lorentz group), plus x -> e0 <x>_k in PGA (GATr: 9).
KNOWN = {EGA: 4, PGA: 9, CGA: 6, Algebra(2, 0, 1): 7, Algebra(1, 3, 0): 5}


def _kingdon_action_matrix(kd, n_reflections: int, rng: np.random.Generator) -> np.ndarray:
    """The matrix of the twisted sandwich of a random versor, computed with kingdon only."""
    k, alg = kd.k, kd.alg
    versor = k.multivector(values=[1.0], keys=(0,))
    for _ in range(n_reflections):
        while True:
            v = rng.normal(size=alg.n)
            square = float(np.sum(v**2 * np.array(alg.metric)))
            if abs(square) > 0.5 * np.sum(v**2):
                break
        versor = versor * k.vector(v / np.sqrt(abs(square)))
    basis = k.multivector(values=np.eye(alg.dim), keys=alg.tables.masks)  # column j = blade j
    moved = basis.involute() if n_reflections % 2 else basis
    inverse = (~versor) / (versor * ~versor).e  # a versor's inverse; kingdon's inv() is slow
    image = versor * moved * inverse
    return kd.back(image, alg.dim).numpy().T  # (out blade, in blade)


def test_basis_counts_match_known_and_an_independent_count(alg, kd):
    basis = alg.equivariant_linear_basis(dtype=torch.float64)
    assert basis.shape == (KNOWN[alg], alg.dim, alg.dim)
    # Independent: the dimension of the commutant of random group elements, from kingdon products.
    rng = np.random.default_rng(0)
    eye = np.eye(alg.dim)
    gram = np.zeros((alg.dim**2, alg.dim**2))
    for n_reflections in (1, 2, 3, 4):
        m = _kingdon_action_matrix(kd, n_reflections, rng)
        constraint = np.kron(eye, m) - np.kron(m.T, eye)  # acts on the column-major vec(phi)
        gram += constraint.T @ constraint
        for b in basis.numpy():  # every basis map commutes with the group element
            np.testing.assert_allclose(m @ b, b @ m, atol=1e-10)
    eigenvalues = np.linalg.eigvalsh(gram)
    assert int(np.sum(eigenvalues < 1e-8 * eigenvalues.max())) == KNOWN[alg]


def test_basis_maps_are_pin_equivariant(alg, float64):
    x = torch.randn(3, 2, alg.dim)
    basis = alg.equivariant_linear_basis(dtype=torch.float64)
    every_map = lambda v: torch.einsum("akj,...j->a...k", basis, v)  # noqa: E731
    assert equivariance_error(every_map, (x,), pin_sample(alg), n_samples=8) < 1e-10


def test_pga_basis_is_grade_projections_and_e0_maps(float64):
    basis = PGA.equivariant_linear_basis()
    x = torch.randn(11, 16)
    e0 = torch.zeros(16)
    e0[1] = 1.0
    for k in range(5):
        torch.testing.assert_close(x @ basis[k].T, PGA.grade_project(x, k))
    for k in range(4):
        expected = PGA.geometric_product(e0, PGA.grade_project(x, k))
        torch.testing.assert_close(x @ basis[5 + k].T, expected)
    assert PGA.linear_basis.grades == tuple((k, k) for k in range(5)) + tuple(
        (k, k + 1) for k in range(4)
    )
    unit = PGA.equivariant_linear_basis(normalize=True)
    torch.testing.assert_close(torch.linalg.matrix_norm(unit), torch.ones(9))


def _dense(alg, x, weight):
    basis = alg.equivariant_linear_basis(dtype=x.dtype)
    return torch.einsum("oia,akj,...ij->...ok", weight, basis, x)


@pytest.mark.parametrize("batch", [(), (7, 9)])
def test_sparse_linear_equals_dense(alg, batch, float64):
    n_basis = alg.linear_basis.n_basis
    x, w = torch.randn(*batch, 3, alg.dim), torch.randn(4, 3, n_basis)
    out = equivariant_linear(alg, x, w)
    assert out.shape == (*batch, 4, alg.dim)
    torch.testing.assert_close(out, _dense(alg, x, w), rtol=0, atol=1e-12)
    torch.testing.assert_close(alg.equivariant_linear(x, w), out)


def test_linear_gradients_and_equivariance(float64):
    x = torch.randn(1, 2, 16, requires_grad=True)
    w = torch.randn(2, 2, 9, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: equivariant_linear(PGA, a, b), (x, w), fast_mode=True
    )
    err = equivariance_error(
        lambda v: equivariant_linear(PGA, v, w.detach()), (x.detach(),), pin_sample(PGA)
    )
    assert err < 1e-10


def test_linear_float32(alg):
    x, w = torch.randn(6, 3, alg.dim), torch.randn(2, 3, alg.linear_basis.n_basis)
    torch.testing.assert_close(equivariant_linear(alg, x, w), _dense(alg, x, w))


def test_linear_bad_input():
    x = torch.randn(5, 3, 16)
    with pytest.raises(ValueError, match=r"\(out_channels, in_channels, 9\).*\(2, 3, 4\)"):
        equivariant_linear(PGA, x, torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 16\)"):
        equivariant_linear(PGA, x, torch.randn(2, 4, 9))
    with pytest.raises(ValueError, match="dtype"):
        equivariant_linear(PGA, x, torch.randn(2, 3, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\)"):
        equivariant_linear(EGA, x, torch.randn(2, 3, 4))
