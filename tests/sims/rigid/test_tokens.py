"""Scenes as PGA multivectors: the embeddings follow the sandwich action, exactly."""

from __future__ import annotations

import pytest
import torch
from sims_testkit import random_scene

from noether.algebra import PGA, random_versor
from noether.algebra.pga import embed_direction, embed_point, extract_point, plane_through
from noether.sims.euclidean import random_euclidean
from noether.sims.rigid.tokens import (
    MV_EXTRA,
    apply_euclidean,
    moved_points,
    pga_tokens,
    raw_tokens,
)


def euclidean_of(versor):
    """``(R, t)`` of the Euclidean map a PGA versor applies to points."""
    basis = torch.cat([torch.zeros(1, 3), torch.eye(3)]).double()
    moved = extract_point(PGA.sandwich(versor, embed_point(basis)))
    t = moved[0]
    return (moved[1:] - t).T, t


@pytest.mark.parametrize("reflections", [2, 4, 1, 3])
def test_embedding_follows_the_sandwich(reflections):
    """embed(g scene) == V embed(scene) V^-1 for proper motions; for improper ones the points and
    directions come out with weight -1 (the plane and the angular-velocity line do not)."""
    torch.manual_seed(reflections)
    versor = random_versor(PGA, reflections)
    rotation, translation = euclidean_of(versor)
    assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    scene = random_scene(b=1)
    mv, s = pga_tokens(scene)
    moved_mv, moved_s = pga_tokens(apply_euclidean(scene, rotation[None], translation[None]))
    sandwiched = PGA.sandwich(versor, mv)
    p = scene["points"].shape[-2]
    odd = reflections % 2
    sign = torch.ones(p + MV_EXTRA, dtype=torch.float64)
    if odd:  # points, com, velocity (ideal point) and gravity (ideal point) are trivectors
        sign[: p + 2] = -1
        sign[p + 3] = -1
    torch.testing.assert_close(moved_mv, sign[:, None] * sandwiched, atol=1e-12, rtol=0)
    torch.testing.assert_close(moved_s, s)


def test_plane_is_the_reflection_versor():
    """Sandwiching a point with the embedded plane reflects it in that plane."""
    n = torch.tensor([0.6, 0.0, 0.8], dtype=torch.float64)
    on_plane = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64)
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    reflected = extract_point(PGA.sandwich(plane_through(n, on_plane), embed_point(x)))
    expected = x - 2 * ((x - on_plane) @ n) * n
    torch.testing.assert_close(reflected, expected, atol=1e-12, rtol=0)


def test_moved_points_reads_the_output_as_a_displacement():
    x, v = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    p = embed_point(x)
    torch.testing.assert_close(moved_points(p, torch.zeros_like(p)), x)
    torch.testing.assert_close(moved_points(p, embed_direction(v)), x + v)
    # a weight in the output does not change the reading, which keeps w(P)
    torch.testing.assert_close(moved_points(p, embed_direction(v) + 3.0 * p), x + v)
    # a reflection negates P, D and both weights: the same point comes out
    torch.testing.assert_close(moved_points(-p, -embed_direction(v)), x + v)


def test_raw_tokens_hold_everything_once():
    scene = random_scene()
    points, vectors = raw_tokens(scene)
    assert points.shape == (3, 4, 5 + 2, 3) and vectors.shape == (3, 4, 4, 3)
    torch.testing.assert_close(points[..., :5, :], scene["points"])
    torch.testing.assert_close(points[:, 2, -1], scene["plane_point"])
    torch.testing.assert_close(vectors[:, 1, 2], scene["gravity"])
    torch.testing.assert_close(vectors[..., 1, :], scene["angular_velocity"])


def test_apply_euclidean_moves_each_kind_correctly():
    scene = random_scene()
    rotation, translation = random_euclidean(3, shift=1.0, dtype=torch.float64)
    moved = apply_euclidean(scene, rotation, translation)
    det = torch.linalg.det(rotation)
    r, t = rotation[0], translation[0]
    torch.testing.assert_close(moved["points"][0], scene["points"][0] @ r.T + t)
    torch.testing.assert_close(moved["gravity"][0], scene["gravity"][0] @ r.T)
    torch.testing.assert_close(
        moved["angular_velocity"][0], det[0] * scene["angular_velocity"][0] @ r.T
    )
    torch.testing.assert_close(moved["scalars"], scene["scalars"])
    assert moved["mask"] is scene["mask"]
