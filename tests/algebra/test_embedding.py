"""Embedding and extraction of geometric objects in EGA, PGA and CGA (noether.algebra.ega/pga/cga).

Round trips are exact, and embedding a transformed object equals the sandwich of the embedded
object (PGA points and directions are trivectors: an odd versor returns them with weight -1).
"""

from __future__ import annotations

import pytest
import torch
from scipy.spatial.transform import Rotation

from noether.algebra import cga, ega, pga
from noether.algebra.embedding import matrix_from_quaternion, quaternion_from_matrix
from noether.testing import random_rotation, random_translation

MODULES = [ega, pga, cga]
AFFINE = [pga, cga]  # with translations and planes off the origin
# sign of a point/direction's embedding after an odd versor: PGA points are trivectors
ODD_SIGN = {ega: 1.0, pga: -1.0, cga: 1.0}


def _reflect(x: torch.Tensor, unit: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    return x - 2 * ((x @ unit) - offset).unsqueeze(-1) * unit


@pytest.fixture
def motion(float64):
    generator = torch.Generator().manual_seed(5)
    rotation = random_rotation(generator=generator)
    translation = random_translation(3.0, generator=generator)
    normal = torch.randn(3, generator=generator)
    return rotation, translation, normal / normal.norm(), torch.randn((), generator=generator)


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__.split(".")[-1])
def test_round_trips(mod, float64):
    x, q = torch.randn(6, 3), torch.randn(6, 4)
    q = q / q.norm(dim=-1, keepdim=True)
    s = torch.randn(6, 1)
    exact = {"rtol": 0, "atol": 0}
    near = {"rtol": 0, "atol": 1e-15} if mod is cga else exact  # CGA's weight is (h+1/2)-(h-1/2)
    torch.testing.assert_close(mod.extract_point(mod.embed_point(x)), x, **near)
    torch.testing.assert_close(mod.extract_direction(mod.embed_direction(x)), x, **exact)
    torch.testing.assert_close(mod.extract_rotation(mod.embed_rotation(q)), q, **exact)
    rotations = torch.stack([random_rotation() for _ in range(6)])
    back = mod.extract_rotation_matrix(mod.embed_rotation_matrix(rotations))
    torch.testing.assert_close(back, rotations, rtol=0, atol=1e-14)
    torch.testing.assert_close(mod.extract_scalar(mod.embed_scalar(s)), s, **exact)
    torch.testing.assert_close(mod.extract_pseudoscalar(mod.embed_pseudoscalar(s)), s, **exact)
    assert mod.embed_point(x).shape == (6, mod.ALGEBRA.dim)
    if mod in AFFINE:
        d = torch.randn(6)
        normal, distance = mod.extract_plane(mod.embed_plane(x, d))
        torch.testing.assert_close((normal, distance), (x, d), **exact)
        torch.testing.assert_close(mod.extract_translation(mod.embed_translation(x)), x, **exact)
        unit, offset = mod.extract_reflection(mod.embed_reflection(x, d))
        torch.testing.assert_close(unit, x / x.norm(dim=-1, keepdim=True), rtol=0, atol=1e-15)
        torch.testing.assert_close(offset, d / x.norm(dim=-1), rtol=0, atol=1e-15)
        through = mod.extract_plane(mod.plane_through(x, 2 * x))[1]
        torch.testing.assert_close(through, 2 * (x * x).sum(-1))
    else:
        torch.testing.assert_close(mod.extract_plane(mod.embed_plane(x)), x, **exact)


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__.split(".")[-1])
def test_embedding_a_transformed_object_is_the_sandwich(mod, motion):
    alg = mod.ALGEBRA
    rotation, translation, unit, offset = motion
    if mod not in AFFINE:
        translation, offset = torch.zeros(3), torch.zeros(())
    x, q2 = torch.randn(5, 3), torch.randn(4)
    versor = mod.embed_rotation_matrix(rotation)
    if mod in AFFINE:
        versor = alg.geometric_product(mod.embed_translation(translation), versor)
    act = lambda mv: alg.sandwich(versor, mv)  # noqa: E731
    close = lambda a, b: torch.testing.assert_close(a, b, rtol=0, atol=1e-12)  # noqa: E731

    # a rigid motion x -> R x + t
    close(act(mod.embed_point(x)), mod.embed_point(x @ rotation.T + translation))
    close(act(mod.embed_direction(x)), mod.embed_direction(x @ rotation.T))
    close(act(mod.embed_scalar(x[:, :1])), mod.embed_scalar(x[:, :1]))
    close(act(mod.embed_pseudoscalar(x[:, :1])), mod.embed_pseudoscalar(x[:, :1]))
    if mod in AFFINE:
        d, moved = torch.randn(5), x @ rotation.T
        close(act(mod.embed_plane(x, d)), mod.embed_plane(moved, d + moved @ translation))
        close(act(mod.embed_translation(x)), mod.embed_translation(x @ rotation.T))
    rotor = mod.embed_rotation_matrix(rotation)
    q2 = mod.extract_rotation(mod.embed_rotation(q2 / q2.norm()))
    r2 = matrix_from_quaternion(q2)
    conjugated = alg.sandwich(rotor, mod.embed_rotation(q2))
    close(mod.extract_rotation_matrix(conjugated), rotation @ r2 @ rotation.T)

    # a reflection in the plane unit . x = offset: odd, so pseudoscalars flip
    mirror = mod.embed_reflection(unit, offset) if mod in AFFINE else mod.embed_reflection(unit)
    reflect = lambda mv: alg.sandwich(mirror, mv)  # noqa: E731
    sign = ODD_SIGN[mod]
    close(reflect(mod.embed_point(x)), sign * mod.embed_point(_reflect(x, unit, offset)))
    close(mod.extract_point(reflect(mod.embed_point(x))), _reflect(x, unit, offset))
    flipped = _reflect(x, unit, torch.zeros(()))
    close(reflect(mod.embed_direction(x)), sign * mod.embed_direction(flipped))
    close(reflect(mod.embed_pseudoscalar(x[:, :1])), mod.embed_pseudoscalar(-x[:, :1]))
    close(reflect(mod.embed_scalar(x[:, :1])), mod.embed_scalar(x[:, :1]))
    if mod in AFFINE:
        d = torch.randn(5)
        close(reflect(mod.embed_plane(x, d)), mod.embed_plane(flipped, d - 2 * offset * (x @ unit)))
        close(reflect(mod.embed_translation(x)), mod.embed_translation(flipped))
    else:
        close(reflect(mod.embed_plane(x)), mod.embed_plane(flipped))


def test_motor_extraction(float64, motion):
    rotation, translation, *_ = motion
    for mod in AFFINE:
        motor = mod.ALGEBRA.geometric_product(
            mod.embed_translation(translation), mod.embed_rotation_matrix(rotation)
        )
        torch.testing.assert_close(mod.extract_translation(motor), translation)
        torch.testing.assert_close(mod.extract_rotation_matrix(motor), rotation)


def test_cga_inner_product_of_points_is_minus_half_the_squared_distance(float64):
    x, y = torch.randn(7, 3), torch.randn(7, 3)
    ip = cga.ALGEBRA.inner_product(cga.embed_point(x), cga.embed_point(y))
    torch.testing.assert_close(ip, -0.5 * ((x - y) ** 2).sum(-1))


def test_quaternion_conventions_match_scipy(float64):
    q = torch.randn(50, 4)
    q = q / q.norm(dim=-1, keepdim=True)
    expected = torch.from_numpy(Rotation.from_quat(q.numpy()).as_matrix())
    torch.testing.assert_close(matrix_from_quaternion(q), expected)
    # every branch of Shepperd's method, including half turns (trace = -1)
    half_turns = torch.from_numpy(Rotation.from_rotvec(torch.pi * torch.eye(3).numpy()).as_matrix())
    matrices = torch.cat([expected, half_turns, torch.eye(3)[None]])
    back = quaternion_from_matrix(matrices)
    assert (back[:, 3] >= 0).all()
    torch.testing.assert_close(matrix_from_quaternion(back), matrices)


def test_float32():
    x = torch.randn(5, 3)
    for mod in MODULES:
        assert mod.embed_point(x).dtype == torch.float32
        torch.testing.assert_close(mod.extract_point(mod.embed_point(x)), x)


def test_bad_input():
    with pytest.raises(ValueError, match=r"position must have shape \(\.\.\., 3\), got \(4, 2\)"):
        pga.embed_point(torch.randn(4, 2))
    with pytest.raises(ValueError, match="NaN or inf"):
        cga.embed_point(torch.tensor([[0.0, float("nan"), 1.0]]))
    with pytest.raises(ValueError, match="floating"):
        ega.embed_point(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"quaternion must have shape \(\.\.\., 4\)"):
        pga.embed_rotation(torch.randn(3))
    with pytest.raises(ValueError, match=r"matrix must have shape \(\.\.\., 3, 3\)"):
        cga.embed_rotation_matrix(torch.randn(4, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\) for a multivector of G\(3,0,1\)"):
        pga.extract_point(torch.randn(5, 32))  # a CGA multivector
    with pytest.raises(ValueError, match=r"scalar must have shape \(\.\.\., 1\)"):
        ega.embed_scalar(torch.randn(5))
