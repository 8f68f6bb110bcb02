import pytest
import torch

from noether.algebra import CGA, EGA, PGA, random_versor
from noether.sims.nbody.tokens import (
    ALGEBRAS,
    GeometricTokens,
    RawTokens,
    embed_direction,
    embed_point,
    embed_scalar,
    extract_point,
    infinity,
    point_weight,
    tokens_for,
)


def _plane_versor(algebra, n_reflections: int, generator: torch.Generator) -> torch.Tensor:
    """A product of random Euclidean reflections (planes ``n + d * ideal``) of the algebra."""
    if algebra != CGA:
        return random_versor(algebra, n_reflections, generator=generator)
    versor = torch.zeros(algebra.dim, dtype=torch.float64)
    versor[0] = 1.0
    for _ in range(n_reflections):
        normal = torch.randn(3, generator=generator, dtype=torch.float64)
        plane = torch.zeros(algebra.dim, dtype=torch.float64)
        plane[1:4] = normal / normal.norm()
        plane = plane + torch.randn((), generator=generator, dtype=torch.float64) * infinity(
            algebra, plane
        )
        versor = algebra.geometric_product(versor, plane)
    return versor


def _euclidean_map(algebra, versor):
    """``(R, t)`` of the Euclidean map a versor applies to points (read off four points)."""
    basis = torch.cat([torch.zeros(1, 3), torch.eye(3)]).double()
    moved = extract_point(algebra, algebra.sandwich(versor, embed_point(algebra, basis)))
    t = moved[0]
    return (moved[1:] - t).T, t


@pytest.mark.parametrize("name", ["ega", "pga", "cga"])
def test_points_round_trip_exactly_and_extraction_ignores_the_weight(name):
    alg = ALGEBRAS[name]
    x = 3.0 * torch.randn(5, 4, 3, dtype=torch.float64)
    mv = embed_point(alg, x)
    assert torch.allclose(extract_point(alg, mv), x, atol=1e-13, rtol=0)
    if name != "ega":
        assert torch.allclose(extract_point(alg, -2.5 * mv), x, atol=1e-13, rtol=0)
    assert torch.equal(embed_scalar(alg, x[..., 0])[..., 0], x[..., 0])


def test_cga_points_are_null_and_their_inner_product_is_minus_half_the_squared_distance():
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    px, py = embed_point(CGA, x), embed_point(CGA, y)
    assert CGA.inner_product(px, px).abs().max() < 1e-13
    expected = -0.5 * ((x - y) ** 2).sum(-1)
    assert torch.allclose(CGA.inner_product(px, py), expected, atol=1e-13)
    e_inf = infinity(CGA, px)
    assert torch.allclose(CGA.inner_product(px, e_inf), -torch.ones(6, dtype=torch.float64))


@pytest.mark.parametrize("name", ["ega", "pga", "cga"])
@pytest.mark.parametrize("n_reflections", [1, 2, 3, 4])
def test_embedding_a_moved_body_equals_the_sandwich_of_its_embedding(name, n_reflections):
    """The versor's Euclidean map is read off points; EGA and CGA embeddings are covariant under
    all of O(3) x translations, PGA's points and directions pick up det(R) (see the module
    docstring)."""
    alg = ALGEBRAS[name]
    generator = torch.Generator().manual_seed(7 + n_reflections)
    versor = _plane_versor(alg, n_reflections, generator)
    rotation, shift = _euclidean_map(alg, versor)
    assert torch.allclose(rotation @ rotation.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    det = torch.linalg.det(rotation).item()
    assert abs(det - (-1) ** n_reflections) < 1e-12
    if name == "ega":
        assert shift.abs().max() < 1e-12  # EGA has no translations
    sign = det if name == "pga" else 1.0
    x, v = torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    moved = embed_point(alg, x @ rotation.T + shift)
    assert torch.allclose(moved, sign * alg.sandwich(versor, embed_point(alg, x)), atol=1e-12)
    turned = embed_direction(alg, v @ rotation.T)
    assert torch.allclose(turned, sign * alg.sandwich(versor, embed_direction(alg, v)), atol=1e-12)
    if name == "cga":
        e_inf = infinity(alg, x)
        assert torch.allclose(alg.sandwich(versor, e_inf), e_inf, atol=1e-12)


def test_tokens_have_the_documented_channels():
    m = torch.tensor([[1.0, 0.1]], dtype=torch.float64)
    x = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]], dtype=torch.float64)
    v = torch.tensor([[[0.0, 0.0, 0.0], [0.5, -0.5, 1.0]]], dtype=torch.float64)
    for name, alg in ALGEBRAS.items():
        mv, s, centre = GeometricTokens(alg).embed(m, x, v)
        assert mv.shape == (1, 2, 3, alg.dim) and s.shape == (1, 2, 1)
        assert torch.equal(s[..., 0], m) and torch.equal(mv[..., 0, 0], m)
        assert torch.allclose(extract_point(alg, mv[..., 1, :]) + centre, x, atol=1e-14)
        assert torch.equal(mv[..., 2, :], embed_direction(alg, v))
        if name == "cga":
            assert torch.equal(mv[..., 0, 1:], infinity(alg, m)[1:].expand(1, 2, -1))
        if name == "ega":
            assert torch.allclose(centre, x.mean(1, keepdim=True))

    def echo(points, vectors, scalars):
        assert points.shape == vectors.shape == (1, 2, 1, 3) and scalars.shape == (1, 2, 1)
        return None, torch.cat([points, vectors], -2), None

    assert torch.equal(RawTokens().predict(echo, m, x, v), 2 * x)


def test_a_zero_model_output_predicts_the_initial_positions():
    m, x, v = torch.rand(2, 4) + 0.1, torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    for alg in (EGA, PGA, CGA):
        tokens = GeometricTokens(alg)

        def zero(mv, s):
            return torch.zeros_like(mv[..., :1, :]), s

        assert torch.allclose(tokens.predict(zero, m, x, v), x, atol=1e-5)

    def still(points, vectors, scalars):
        return None, torch.zeros_like(vectors), None

    assert torch.equal(RawTokens().predict(still, m, x, v), x)


def test_the_prediction_is_the_input_point_moved_without_division():
    """An output D moves P to P + D - w(D) P, of weight 1 whatever w(D): D = -P + 0.1 u, with u
    a weight-0 difference of points, predicts x + 0.1 u where dividing P + D by w = 0 would not."""
    m, x, v = torch.rand(2, 4) + 0.1, torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    ones = torch.ones(3)
    for alg in (PGA, CGA):
        tokens = GeometricTokens(alg)
        mv, _, centre = tokens.embed(m, x, v)
        u = embed_point(alg, ones) - embed_point(alg, torch.zeros(3))
        move = -mv[..., 1:2, :] + 0.1 * u
        assert point_weight(alg, mv[..., 1, :] + move[..., 0, :]).abs().max() < 1e-6
        assert torch.allclose(tokens.extract(move, mv, centre), x + 0.1 * ones, atol=1e-6)


def test_tokens_for_picks_tokens_by_the_models_api(tiny_geometric, tiny_raw):
    assert tokens_for(tiny_geometric("cga")).algebra == CGA
    assert isinstance(tokens_for(tiny_raw()), RawTokens)
    with pytest.raises(ValueError, match="neither"):
        tokens_for(torch.nn.Linear(3, 3))


def test_bad_inputs_are_refused_with_the_shape_or_algebra():
    from noether.algebra import Algebra

    with pytest.raises(ValueError, match="G\\(2,0,1\\)"):
        embed_point(Algebra(2, 0, 1), torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        embed_point(PGA, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="shape"):
        extract_point(PGA, torch.zeros(4, 8))
    with pytest.raises(ValueError, match="CGA"):
        infinity(PGA, torch.zeros(1))
