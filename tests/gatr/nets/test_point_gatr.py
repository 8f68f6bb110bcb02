"""Raw-3D models: PointGATr is E(3)-equivariant for every variant; the Transformer baseline
shares its interface, matches parameter counts and augments by random isometries."""

from __future__ import annotations

import pytest
import torch

from noether.gatr.nets.point_gatr import PointGATr
from noether.gatr.nets.points import PointOutputs, random_isometry
from noether.gatr.nets.transformer import Transformer
from noether.gatr.primitives import lengths_to_mask
from noether.testing import check_e3, check_o3, check_permutation, check_translation

ACTIONS = ("position", "vector", "scalar")


def _inputs(dtype=torch.float64):
    torch.manual_seed(1)
    return (
        torch.randn(2, 5, 2, 3, dtype=dtype),
        torch.randn(2, 5, 1, 3, dtype=dtype),
        torch.randn(2, 5, 2, dtype=dtype),
    )


def _point_gatr(name, blocks=1, **kwargs):
    torch.manual_seed(0)
    return PointGATr(
        algebra=name,
        in_points=2,
        in_vectors=1,
        in_scalars=2,
        out_points=1,
        out_vectors=1,
        out_scalars=2,
        hidden_mv_channels=4,
        hidden_s_channels=4,
        num_blocks=blocks,
        num_heads=2,
        **kwargs,
    ).double()


@pytest.mark.parametrize("name", ["ega", "pga", "ipga", "cga"])
def test_point_gatr_is_e3_equivariant(name, float64):
    model = _point_gatr(name, blocks=2, orientation="average")

    def fn(p, v, s):
        return tuple(model(p, v, s))

    inputs = _inputs()
    assert check_e3(fn, inputs, ACTIONS, ACTIONS, scale=1.0) < 1e-9
    assert check_permutation(fn, inputs, (1, 1, 1), (1, 1, 1)) < 1e-9


@pytest.mark.parametrize("name", ["pga", "ipga"])
def test_fixed_orientation_is_se3_equivariant(name, float64):
    model = _point_gatr(name, blocks=2)

    def fn(p, v, s):
        return tuple(model(p, v, s))

    inputs = _inputs()
    assert check_o3(fn, inputs, ACTIONS, ACTIONS, det=1) < 1e-9
    assert check_translation(fn, inputs, ACTIONS, ACTIONS, scale=1.0) < 1e-9
    assert check_o3(fn, inputs, ACTIONS, ACTIONS, det=-1) > 1e-3  # the orientation shows


def test_padding_and_interface(float64):
    points, vectors, scalars = _inputs()
    token_mask = lengths_to_mask([5, 3])
    for model in (
        _point_gatr("ega"),
        Transformer(
            in_points=2,
            in_vectors=1,
            in_scalars=2,
            out_points=1,
            out_vectors=1,
            out_scalars=2,
            hidden_channels=8,
            num_blocks=1,
            num_heads=2,
        ).double(),
    ):
        out = model(points, vectors, scalars, token_mask=token_mask)
        assert isinstance(out, PointOutputs)
        assert out.points.shape == (2, 5, 1, 3) and out.vectors.shape == (2, 5, 1, 3)
        assert out.scalars.shape == (2, 5, 2)
        assert all(t[1, 3:].abs().sum() == 0 for t in out)
        alone = model(points[1, :3], vectors[1, :3], scalars[1, :3])
        assert all((a - b[1, :3]).abs().max() < 1e-12 for a, b in zip(alone, out))


def test_scalar_only_inputs(float64):
    model = PointGATr(
        algebra="pga",
        in_points=0,
        in_vectors=0,
        in_scalars=3,
        out_points=1,
        out_vectors=0,
        out_scalars=1,
        hidden_mv_channels=4,
        hidden_s_channels=4,
        num_blocks=1,
        num_heads=2,
    ).double()
    out = model(scalars=torch.randn(2, 4, 3))
    assert (
        out.points.shape == (2, 4, 1, 3) and out.vectors is None and out.scalars.shape == (2, 4, 1)
    )


def test_transformer_matching_parameters():
    gatr = _point_gatr("ipga")
    target = sum(p.numel() for p in gatr.parameters())
    model = Transformer.matching(
        target, in_points=2, in_vectors=1, in_scalars=2, out_points=1, num_heads=2
    )
    count = sum(p.numel() for p in model.parameters())
    channels = model.embed.out_features
    wider = sum(
        p.numel()
        for p in Transformer(
            in_points=2,
            in_vectors=1,
            in_scalars=2,
            out_points=1,
            out_vectors=0,
            out_scalars=0,
            hidden_channels=channels + 2,
            num_blocks=4,
            num_heads=2,
        ).parameters()
    )
    narrower = sum(
        p.numel()
        for p in Transformer(
            in_points=2,
            in_vectors=1,
            in_scalars=2,
            out_points=1,
            out_vectors=0,
            out_scalars=0,
            hidden_channels=channels - 2,
            num_blocks=4,
            num_heads=2,
        ).parameters()
    )
    assert abs(count - target) <= min(abs(wider - target), abs(narrower - target))


def test_transformer_augmentation(float64):
    torch.manual_seed(0)
    model = Transformer(
        in_points=2,
        in_vectors=1,
        in_scalars=2,
        out_points=1,
        out_vectors=1,
        out_scalars=2,
        hidden_channels=8,
        num_blocks=2,
        num_heads=2,
        augment=True,
        augment_translation=2.0,
    ).double()
    points, vectors, scalars = _inputs()
    model.eval()
    plain = model(points, vectors, scalars)
    assert all(torch.equal(a, b) for a, b in zip(plain, model(points, vectors, scalars)))
    model.train()
    torch.manual_seed(7)
    augmented = model(points, vectors, scalars)
    torch.manual_seed(7)
    rotation, shift = random_isometry((2,), 2.0, dtype=torch.float64, device=torch.device("cpu"))
    model.augment = False
    moved = model(
        points @ rotation.transpose(-1, -2)[:, None] + shift[:, None, None],
        vectors @ rotation.transpose(-1, -2)[:, None],
        scalars,
    )
    back_points = (moved.points - shift[:, None, None]) @ rotation[:, None]
    assert (augmented.points - back_points).abs().max() < 1e-12
    assert (augmented.vectors - moved.vectors @ rotation[:, None]).abs().max() < 1e-12
    assert torch.equal(augmented.scalars, moved.scalars)
    assert (augmented.points - plain.points).abs().max() > 1e-3  # not equivariant by itself


def test_bad_inputs():
    model = Transformer(
        in_points=2,
        in_vectors=1,
        in_scalars=2,
        out_points=1,
        out_vectors=1,
        out_scalars=2,
        hidden_channels=8,
        num_blocks=1,
        num_heads=2,
        check_finite=True,
    )
    points, vectors, scalars = _inputs(torch.float32)
    with pytest.raises(
        ValueError, match=r"points must have shape \(\.\.\., tokens, 2, 3\), got \(2, 5, 2, 2\)"
    ):
        model(points[..., :2], vectors, scalars)
    with pytest.raises(ValueError, match=r"vectors of shape \(\.\.\., tokens, 1, 3\) are required"):
        model(points, None, scalars)
    with pytest.raises(ValueError, match="inputs disagree"):
        model(points, vectors[:1], scalars[:1])
    bad = points.clone()
    bad[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="points contains NaN or infinity"):
        model(bad, vectors, scalars)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        Transformer(
            in_points=1,
            in_vectors=0,
            in_scalars=0,
            out_points=1,
            out_vectors=0,
            out_scalars=0,
            hidden_channels=10,
            num_blocks=1,
            num_heads=4,
        )
    with pytest.raises(ValueError, match="at least one input and one output"):
        PointGATr(
            algebra="pga",
            in_points=1,
            in_vectors=0,
            in_scalars=0,
            out_points=0,
            out_vectors=0,
            out_scalars=0,
        )
    with pytest.raises(ValueError, match="orientation must be"):
        PointGATr(algebra="pga", orientation="both")
    with pytest.raises(ValueError, match="raw 3D inputs are defined for EGA, PGA and CGA"):
        from noether.algebra import Algebra

        PointGATr(algebra=Algebra(2, 0, 1))
