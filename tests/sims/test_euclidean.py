"""One random_euclidean for both families; each call site keeps the random draws it had before."""

from __future__ import annotations

import pytest
import torch

from noether.sims.euclidean import random_euclidean
from noether.sims.nbody.tokens import apply_euclidean, invert_euclidean


def _old_nbody(batch, *, shift, reflections=True, generator=None, dtype=torch.float32):
    """sims/nbody's random_euclidean before the merge (studies/nbody_tokens.py), verbatim."""
    a = torch.randn(batch, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    det = torch.linalg.det(q)
    if reflections:
        flip = torch.randint(0, 2, (batch,), generator=generator) * 2 - 1
        det = det * flip
    q = q.clone()
    q[..., 0] = q[..., 0] * torch.sign(det).unsqueeze(-1)
    t = shift * torch.randn(batch, 3, generator=generator, dtype=torch.float64)
    return q.to(dtype=dtype), t.to(dtype=dtype)


def _old_rigid(batch, *, translation_std, reflections=True, generator=None, dtype=torch.float32):
    """The rigid task's random_euclidean before the merge (studies/scaling/tokens.py), verbatim."""
    gaussian = torch.randn(batch, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    det = torch.linalg.det(q)
    if not reflections:
        q[:, :, 0] *= det.unsqueeze(-1)
    t = translation_std * torch.randn(batch, 3, generator=generator, dtype=torch.float64)
    return q.to(dtype), t.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_nbody_tasks_draws_are_unchanged(dtype):
    # NBodyTask.forward: random_euclidean(B, shift=..., determinant="coin", dtype=x.dtype)
    for seed in range(20):
        torch.manual_seed(seed)
        old = _old_nbody(7, shift=3.0, dtype=dtype)
        torch.manual_seed(seed)
        new = random_euclidean(7, shift=3.0, determinant="coin", dtype=dtype)
        assert all(torch.equal(a, b) for a, b in zip(old, new))


@pytest.mark.parametrize("reflections", [True, False])
def test_the_rigid_tasks_draws_are_unchanged(reflections):
    # RigidTransitions: random_euclidean(1, shift=..., reflections=transform == "random",
    # generator=a seeded generator for "fixed", the global stream for "random")
    for seed in range(50):
        old = _old_rigid(
            1, translation_std=0.5, reflections=reflections,
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        new = random_euclidean(
            1, shift=0.5, reflections=reflections, generator=torch.Generator().manual_seed(seed)
        )
        assert all(torch.equal(a, b) for a, b in zip(old, new))


def test_the_stream_after_a_draw_is_the_same_as_before():
    """The next random numbers of the task's stream are unchanged too (the same count drawn)."""
    for old, new in (
        (lambda g: _old_nbody(5, shift=1.0, generator=g),
         lambda g: random_euclidean(5, shift=1.0, determinant="coin", generator=g)),
        (lambda g: _old_rigid(5, translation_std=1.0, generator=g),
         lambda g: random_euclidean(5, shift=1.0, generator=g)),
    ):  # fmt: skip
        g_old, g_new = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        old(g_old), new(g_new)
        assert torch.equal(torch.rand(4, generator=g_old), torch.rand(4, generator=g_new))


def test_coin_draws_give_both_determinants_and_invert():
    generator = torch.Generator().manual_seed(1)
    rotation, shift = random_euclidean(
        400, shift=5.0, determinant="coin", generator=generator, dtype=torch.float64
    )
    dets = torch.linalg.det(rotation)
    assert torch.allclose(dets.abs(), torch.ones(400, dtype=torch.float64))
    assert 150 < int((dets > 0).sum()) < 250
    eye = torch.eye(3, dtype=torch.float64).expand(400, 3, 3)
    assert torch.allclose(rotation @ rotation.transpose(1, 2), eye, atol=1e-12)
    assert 4.0 < float(shift.std()) < 6.0
    x = torch.randn(400, 4, 3, dtype=torch.float64)
    assert torch.allclose(invert_euclidean(apply_euclidean(x, rotation, shift), rotation, shift), x)
    proper, _ = random_euclidean(50, shift=0.0, reflections=False, generator=generator)
    assert (torch.linalg.det(proper) > 0).all()


def test_haar_draws_are_haar_on_o3_or_so3():
    rotation, translation = random_euclidean(
        200, shift=2.0, generator=torch.Generator().manual_seed(0)
    )
    eye = torch.eye(3).expand(200, 3, 3)
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), eye, atol=1e-5, rtol=0)
    det = torch.linalg.det(rotation)
    assert 60 < (det > 0).sum() < 140  # both components of O(3)
    assert 1.5 < translation.std() < 2.5
    proper, _ = random_euclidean(50, shift=0.0, reflections=False)
    torch.testing.assert_close(torch.linalg.det(proper), torch.ones(50), atol=1e-5, rtol=0)


def test_bad_shifts_and_modes_are_refused():
    with pytest.raises(ValueError, match="shift"):
        random_euclidean(3, shift=float("nan"))
    with pytest.raises(ValueError, match="determinant"):
        random_euclidean(3, shift=1.0, determinant="flip")
