import pytest
import torch

from noether.testing import (
    check_e3,
    check_o3,
    check_permutation,
    check_translation,
    equivariance_error,
    random_orthogonal,
)


@pytest.mark.parametrize("det", [1, -1, None])
def test_random_orthogonal_is_orthogonal_with_requested_det(det):
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        q = random_orthogonal(det, generator=g)
        assert torch.allclose(q @ q.T, torch.eye(3, dtype=q.dtype), atol=1e-12)
        if det is not None:
            assert torch.linalg.det(q).item() == pytest.approx(det, abs=1e-12)


def test_random_orthogonal_covers_both_determinants():
    g = torch.Generator().manual_seed(2)
    dets = {round(torch.linalg.det(random_orthogonal(generator=g)).item()) for _ in range(50)}
    assert dets == {1, -1}


def _dipole(charges, positions):
    centre = positions.mean(0)
    return (charges[:, None] * (positions - centre)).sum(0)


def test_equivariant_function_passes_in_float64(float64):
    q = torch.randn(7)
    x = torch.randn(7, 3)
    assert check_o3(_dipole, (q, x), ("scalar", "position"), ("vector",)) < 1e-12
    assert check_translation(_dipole, (q, x), ("scalar", "position"), ("vector",)) < 1e-12
    assert check_e3(_dipole, (q, x), ("scalar", "position"), ("vector",)) < 1e-12


def test_broken_functions_are_caught():
    x = torch.randn(7, 3, dtype=torch.float64)
    q = torch.randn(7, dtype=torch.float64)

    # not centred: fails translations but passes O(3)
    def uncentred(c, p):
        return (c[:, None] * p).sum(0)

    assert check_o3(uncentred, (q, x), ("scalar", "position"), ("vector",)) < 1e-12
    assert check_translation(uncentred, (q, x), ("scalar", "position"), ("vector",)) > 1e-3

    # a cross product is a pseudovector: it fails as a vector under reflections only
    def cross(p):
        return torch.linalg.cross(p[0], p[1])

    assert check_o3(cross, (x,), ("vector",), ("vector",), det=1) < 1e-12
    assert check_o3(cross, (x,), ("vector",), ("vector",), det=-1) > 1e-3
    assert check_o3(cross, (x,), ("vector",), ("pseudovector",)) < 1e-12
    # a non-equivariant map
    assert check_o3(lambda p: p**3, (x,), ("vector",), ("vector",)) > 1e-3


def test_permutation_check():
    x = torch.randn(6, 4, dtype=torch.float64)
    assert check_permutation(lambda a: a * 2, (x,), (0,), (0,)) == 0.0
    assert check_permutation(lambda a: a.sum(0), (x,), (0,), (None,)) < 1e-12
    assert check_permutation(lambda a: a.cumsum(0), (x,), (0,), (0,)) > 1e-3


def test_custom_action_and_general_form():
    # SO(2) acting on complex numbers by a phase: |z|^2 is invariant, z^2 picks up twice the phase
    z = torch.randn(5, dtype=torch.complex128)

    def sample(g):
        phase = torch.exp(1j * 2 * torch.pi * torch.rand((), generator=g, dtype=torch.float64))
        return (lambda xs: (xs[0] * phase,)), (lambda ys: (ys[0] * phase**2,))

    assert equivariance_error(lambda a: a**2, (z,), sample) < 1e-12
    assert equivariance_error(lambda a: a**3, (z,), sample) > 1e-3


def test_dict_outputs_and_callable_actions(float64):
    x = torch.randn(4, 3)

    def fn(p):
        return {"norm": p.norm(dim=-1), "doubled": 2 * p}

    def double_vector(v, r):
        return v @ r.T

    assert check_o3(fn, (x,), ("vector",), ("scalar", double_vector)) < 1e-12


def test_bad_arguments_are_named():
    x = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown action 'spinor'"):
        check_o3(lambda p: p, (x,), ("spinor",), ("vector",))
    with pytest.raises(ValueError, match="last axis of length 3"):
        check_o3(lambda p: p, (torch.randn(4, 2),), ("vector",), ("vector",))
    with pytest.raises(ValueError, match="one action per value"):
        check_o3(lambda p: (p, p), (x,), ("vector",), ("vector",))
    with pytest.raises(ValueError, match="det must be"):
        random_orthogonal(2)
