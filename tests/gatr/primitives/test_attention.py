"""Geometric attention equals a naive softmax over the algebra's invariants; packing is exact."""

from __future__ import annotations

import math

import pytest
import torch

from noether.algebra import CGA, EGA, PGA
from noether.gatr.primitives import attention_mask, from_internal, lengths_to_mask, to_internal
from noether.gatr.primitives.attention import (
    AttentionShape,
    _Pack,
    _pack_reference,
    _Unpack,
    geometric_attention,
)
from noether.gatr.variants import resolve_variant

EPS = 1e-3


def _naive(alg, distance, q, k, v, qs, ks, vs, weights, mask):
    """q: (B, Tq, H, hm, dim), k/v: (B, Tk, Hk, hm, dim), scalars (B, T, H|Hk, hs)."""
    heads, kv = q.shape[2], k.shape[2]
    k, v = k.repeat_interleave(heads // kv, 2), v.repeat_interleave(heads // kv, 2)
    ks, vs = ks.repeat_interleave(heads // kv, 2), vs.repeat_interleave(heads // kv, 2)
    qe, ke = q[:, :, None], k[:, None]  # (B, Tq, Tk, H, hm, dim)
    if distance:  # the inner product without e123, plus the weighted distance term
        e123 = alg.nondegenerate_pseudoscalar_index
        keep = torch.ones(alg.dim, dtype=q.dtype)
        keep[e123] = 0
        score = alg.inner_product(qe * keep, ke * keep).sum(-1)
        idx = [alg.blade_names.index(n) for n in ("e012", "e013", "e023")]

        def normal(x):
            w = x[..., e123]
            scale = w / (w * w + EPS)
            return w * scale, x[..., idx] * scale[..., None]

        (wq, tq), (wk, tk) = normal(qe), normal(ke)
        d = -((wq[..., None] * tk - wk[..., None] * tq) ** 2).sum(-1)  # (B, Tq, Tk, H, hm)
        score = score + (d * weights).sum(-1)
        width = q.shape[3] * (alg.dim // 2 - 1 + 5) + qs.shape[-1]
    else:
        score = alg.inner_product(qe, ke).sum(-1)
        width = q.shape[3] * sum(1 for m in alg.blade_metric if m) + qs.shape[-1]
    score = (score + (qs[:, :, None] * ks[:, None]).sum(-1)) / math.sqrt(width)  # (B, Tq, Tk, H)
    if mask is not None:
        score = score.masked_fill(~mask[..., None], float("-inf"))
    attn = score.softmax(2)
    return torch.einsum("bqkh,bkhcd->bqhcd", attn, v), torch.einsum("bqkh,bkhs->bqhs", attn, vs)


@pytest.mark.parametrize("name", ["ega", "pga", "ipga", "cga"])
@pytest.mark.parametrize("kv_heads", [2, 1], ids=["mha", "mqa"])
def test_matches_naive(name, kv_heads, float64):
    variant = resolve_variant(name)
    alg = variant.algebra
    b, tq, heads, hm, hs = 2, 4, 2, 2, 3
    q = torch.randn(b, tq, heads, hm, alg.dim)
    k, v = torch.randn(2, b, tq, kv_heads, hm, alg.dim)
    qs, ks, vs = (
        torch.randn(b, tq, heads, hs),
        torch.randn(b, tq, kv_heads, hs),
        torch.randn(b, tq, kv_heads, hs),
    )
    weights = torch.rand(heads, hm) + 0.5
    mask = torch.rand(b, tq, tq) > 0.3
    mask[:, torch.arange(tq), torch.arange(tq)] = True
    want_mv, want_s = _naive(alg, variant.distance, q, k, v, qs, ks, vs, weights, mask)

    flat = lambda t: t.reshape(b * tq, -1, alg.dim)  # noqa: E731
    mv = torch.cat([to_internal(alg, flat(t)) for t in (q, k, v)], -1)
    s = torch.cat([t.reshape(b * tq, -1) for t in (qs, ks, vs)], -1)
    hq, hk = heads * hm, kv_heads * hm
    m = sum(1 for x in alg.blade_metric if x) - (1 if variant.distance else 0)
    shape = AttentionShape(
        b,
        heads,
        kv_heads,
        hm,
        hs,
        tq,
        tq,
        0,
        hq,
        hq + hk,
        0,
        heads * hs,
        (heads + kv_heads) * hs,
        ip=m,
        distance=variant.distance,
        eps=EPS,
    )
    out_mv, out_s = geometric_attention(
        alg,
        mv,
        s,
        shape,
        mask=mask[:, None],
        distance_weights=weights.reshape(-1) if variant.distance else None,
    )
    got_mv = from_internal(alg, out_mv, (b, tq)).reshape(b, tq, heads, hm, alg.dim)
    assert (got_mv - want_mv).abs().max() < 1e-12
    assert (out_s.reshape(b, tq, heads, hs) - want_s).abs().max() < 1e-12


@pytest.mark.parametrize(("alg", "distance"), [(PGA, True), (CGA, False), (EGA, False)], ids=str)
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_pack_gradients(alg, distance, cross, float64):
    b, tq, tk, heads, kvh, hm, hs = 1, 2, 3, 2, 1, 1, 1
    ip = sum(1 for m in alg.blade_metric if m) - (1 if distance else 0)
    if cross:
        shape = AttentionShape(
            b, heads, kvh, hm, hs, tq, tk, 0, 0, kvh * hm, 0, 0, kvh * hs, ip, distance, EPS
        )
        q_mv = torch.randn(alg.dim, b * tq, heads * hm, requires_grad=True)
        q_s = torch.randn(b * tq, heads * hs, requires_grad=True)
        kv_mv = torch.randn(alg.dim, b * tk, 2 * kvh * hm, requires_grad=True)
        kv_s = torch.randn(b * tk, 2 * kvh * hs, requires_grad=True)
    else:
        tk = tq
        shape = AttentionShape(
            b,
            heads,
            kvh,
            hm,
            hs,
            tq,
            tq,
            0,
            heads * hm,
            (heads + kvh) * hm,
            0,
            heads * hs,
            (heads + kvh) * hs,
            ip,
            distance,
            EPS,
        )
        q_mv = torch.randn(alg.dim, b * tq, (heads + 2 * kvh) * hm, requires_grad=True)
        q_s = torch.randn(b * tq, (heads + 2 * kvh) * hs, requires_grad=True)
        kv_mv = kv_s = None
    w = (torch.rand(heads * hm) + 0.5).requires_grad_() if distance else None
    args = (q_mv, q_s, kv_mv, kv_s, w)

    def fused(*a):
        return _Pack.apply(alg, *a, shape)

    for got, want in zip(fused(*args), _pack_reference(alg, *args, shape)):
        assert (got - want).abs().max() == 0
    assert torch.autograd.gradcheck(fused, args, fast_mode=True)
    if alg == PGA:
        assert torch.autograd.gradgradcheck(fused, args, fast_mode=True)
    out = torch.randn(b, heads, tq, shape.width(alg.dim), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda o: _Unpack.apply(o, alg.dim, shape), (out,), fast_mode=True
    )


def test_masks():
    target = dict(batch_shape=(2,), heads=4, q_tokens=3, k_tokens=5, dtype=torch.float32)
    assert attention_mask(None, None, **target) is None
    full = torch.rand(2, 4, 3, 5) > 0.5
    assert attention_mask(full, None, **target).shape == (2, 4, 3, 5)
    assert attention_mask(torch.ones(3, 5, dtype=torch.bool), None, **target).shape == (3, 5)
    tokens = lengths_to_mask([5, 2])
    combined = attention_mask(full, tokens, **target)
    assert not combined[1, :, :, 2:].any() and torch.equal(combined[0], full[0])
    additive = attention_mask(torch.zeros(2, 1, 3, 5), tokens, **target)
    assert additive.dtype == torch.float32 and torch.isinf(additive[1, ..., 2:]).all()
    with pytest.raises(
        ValueError, match=r"mask of shape \(2, 3, 5\) does not broadcast to .*\(2, 4, 3, 5\)"
    ):
        attention_mask(torch.ones(2, 3, 5, dtype=torch.bool), None, **target)
    with pytest.raises(ValueError, match="boolean or floating"):
        attention_mask(torch.ones(3, 5, dtype=torch.long), None, **target)
    with pytest.raises(ValueError, match=r"token_mask must have shape .*\(2, 5\), got \(2, 4\)"):
        attention_mask(None, torch.ones(2, 4, dtype=torch.bool), **target)
    with pytest.raises(ValueError, match="non-negative integers"):
        lengths_to_mask([2, -1])
    assert lengths_to_mask([1, 3], 4).tolist() == [
        [True, False, False, False],
        [True, True, True, False],
    ]


@pytest.mark.parametrize("name", ["pga", "ipga", "cga"])
def test_scores_see_distances(name, float64):
    """Attention scores between embedded points: improved PGA (distance features) and CGA (null
    vectors) score ``a - b |x_q - x_k|^2`` with ``b > 0``; plain PGA is blind to distances (its
    inner product ignores every ``e0`` component, where positions live)."""
    from noether.algebra import cga, pga

    variant = resolve_variant(name)
    alg = variant.algebra
    embed = pga.embed_point if alg == PGA else cga.embed_point
    tokens = 6
    points = torch.randn(tokens, 3)
    mv = to_internal(alg, embed(points)[:, None].expand(tokens, 3, alg.dim))  # q, k, v channels
    ip = sum(1 for m in alg.blade_metric if m) - (1 if variant.distance else 0)
    shape = AttentionShape(
        1, 1, 1, 1, 0, tokens, tokens, 0, 1, 2, 0, 0, 0, ip, variant.distance, EPS
    )
    weights = torch.ones(1) if variant.distance else None
    q, k, _ = _pack_reference(alg, mv, None, None, None, weights, shape)
    scores = (q @ k.transpose(-1, -2))[0, 0]
    squared = torch.cdist(points, points) ** 2
    if name == "pga":
        assert (scores - scores[0, 0]).abs().max() < 1e-12
        return
    slope = -0.5 if name == "cga" else -1.0 / (1 + EPS) ** 4
    assert (scores - scores[0, 0] - slope * squared).abs().max() < 1e-10
