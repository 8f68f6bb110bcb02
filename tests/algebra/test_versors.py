"""Random versors, the sandwich action, and Pin equivariance of every product."""

from __future__ import annotations

import pytest
import torch

from noether.algebra import PGA, Algebra, pin_sample, random_vector, random_versor
from noether.testing import equivariance_error


def test_random_versors(alg, float64):
    generator = torch.Generator().manual_seed(1)
    for count in range(5):
        v = random_versor(alg, count, (6,), generator=generator)
        grades = torch.tensor(alg.grades)
        wrong_parity = v[:, grades % 2 != count % 2]
        assert wrong_parity.abs().max() == 0  # even or odd, never mixed
        square = alg.geometric_product(v, alg.reverse(v))  # V reverse(V) = +-1
        torch.testing.assert_close(square[:, 0].abs(), torch.ones(6))
        torch.testing.assert_close(square[:, 1:], torch.zeros(6, alg.dim - 1), atol=1e-12, rtol=0)
    vector = random_vector(alg, (3,), generator=generator)
    assert (vector[:, torch.tensor(alg.grades) != 1] == 0).all()


def test_sandwich_matches_kingdon(alg, kd, float64):
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(9, alg.dim)
    for count in (1, 2, 3):
        v = random_versor(alg, count, generator=generator)
        kv, kx = kd.to(v.unsqueeze(0)), kd.to(x)
        moved = kx.involute() if count % 2 else kx
        inverse = (~kv) / (kv * ~kv).e
        expected = kd.back(kv * moved * inverse, 9)
        torch.testing.assert_close(alg.sandwich(v, x), expected, rtol=0, atol=1e-11)


def test_sandwich_is_a_group_action(alg, float64):
    generator = torch.Generator().manual_seed(3)
    a, b = random_versor(alg, 3, generator=generator), random_versor(alg, 2, generator=generator)
    x = torch.randn(5, alg.dim)
    both = alg.sandwich(alg.geometric_product(a, b), x)
    torch.testing.assert_close(both, alg.sandwich(a, alg.sandwich(b, x)), rtol=0, atol=1e-10)
    reflection = random_versor(alg, 1, generator=generator)  # a reflection is an involution
    twice = alg.sandwich(reflection, alg.sandwich(reflection, x))
    torch.testing.assert_close(twice, x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("op", ["geometric_product", "outer_product"])
def test_products_are_pin_equivariant(alg, op, schedule, float64):
    x, y = torch.randn(7, 3, alg.dim), torch.randn(7, 3, alg.dim)
    err = equivariance_error(getattr(alg, op), (x, y), pin_sample(alg), n_samples=8)
    assert err < 1e-10


def test_join_is_pin_equivariant_with_a_reference(alg, float64):
    x, y, reference = (torch.randn(7, 3, alg.dim) for _ in range(3))
    err = equivariance_error(alg.equivariant_join, (x, y, reference), pin_sample(alg), n_samples=8)
    assert err < 1e-10
    # the plain join is equivariant under even versors only; odd ones flip its sign
    even = equivariance_error(alg.join, (x, y), pin_sample(alg, parity="even"), n_samples=4)
    assert even < 1e-10
    odd = equivariance_error(alg.join, (x, y), pin_sample(alg, parity="odd"), n_samples=4)
    assert odd > 1e-2


def test_invariants_and_unary_maps_are_pin_equivariant(alg, float64):
    x, y = torch.randn(7, alg.dim), torch.randn(7, alg.dim)
    invariant = pin_sample(alg, None, ("scalar",))
    assert equivariance_error(alg.inner_product, (x, y), invariant) < 1e-10
    assert equivariance_error(alg.norm, (x,), invariant) < 1e-10
    for name in ("reverse", "grade_involution", "clifford_conjugate"):
        assert equivariance_error(getattr(alg, name), (x,), pin_sample(alg)) < 1e-10
    for k in range(alg.n + 1):
        assert (
            equivariance_error(lambda v, k=k: alg.grade_project(v, k), (x,), pin_sample(alg))
            < 1e-10
        )


def test_float32_equivariance(alg):
    x, y = torch.randn(7, alg.dim), torch.randn(7, alg.dim)
    assert equivariance_error(alg.geometric_product, (x, y), pin_sample(alg)) < 1e-4


def test_bad_input():
    with pytest.raises(ValueError, match="unknown action 'vector'"):
        pin_sample(PGA, ("vector",))
    with pytest.raises(ValueError, match="at least 1"):
        pin_sample(PGA, max_reflections=0)
    with pytest.raises(ValueError, match="parity must be"):
        pin_sample(PGA, parity="proper")
    with pytest.raises(ValueError, match="non-negative int"):
        random_versor(PGA, -1)
    with pytest.raises(ValueError, match="only null"):
        random_vector(Algebra(0, 0, 1))
    sample = pin_sample(PGA, ("multivector",))
    move_in, _ = sample(torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"1 action\(s\) given for 2 value\(s\)"):
        move_in((torch.randn(16), torch.randn(16)))
