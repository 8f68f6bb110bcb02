"""Padding masks (``zero_padding``, ``attention_mask``), and what they promise end to end.

Padded tokens may hold anything: NaN, infinity or huge values at tokens hidden by
``token_mask`` change neither the real tokens' outputs nor any gradient, for GATr (self- and
cross-attention), PointGATr and the Transformer baseline.

Each case runs a model twice on the same real tokens, once with clean (random, finite) padding
and once with poisoned padding, and asserts identical outputs and identical, finite gradients
with respect to the inputs and the parameters; the real tokens also equal each sample run alone.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from noether.gatr import GATr
from noether.gatr.nets.point_gatr import PointGATr
from noether.gatr.nets.transformer import Transformer
from noether.gatr.primitives import lengths_to_mask
from noether.gatr.primitives.masks import attention_mask, zero_padding

POISONS = [math.nan, math.inf, -1e300]
CASES = [  # (masking, poison): the attention masks, each with one of the poisons
    ("tokens", math.nan),
    ("tokens", -math.inf),
    ("tokens", 1e30),
    ("tokens+mask", math.nan),
    ("tokens+additive", math.inf),
]
LENGTHS = [5, 2, 0]  # a full sample, a padded one, and one without real tokens


def _gatr(variant="pga", **kwargs):
    torch.manual_seed(0)
    args = dict(in_mv_channels=2, out_mv_channels=3, hidden_mv_channels=4, in_s_channels=3)
    args |= dict(out_s_channels=2, hidden_s_channels=4, num_blocks=2, num_heads=2) | kwargs
    return GATr(algebra=variant, **args).double()


def _point_model(kind):
    torch.manual_seed(0)
    counts = dict(in_points=2, in_vectors=1, in_scalars=2, out_points=1, out_vectors=1)
    counts |= dict(out_scalars=2, num_blocks=2, num_heads=2)
    if kind == "transformer":
        return Transformer(**counts, hidden_channels=8).double()
    algebra, orientation = kind.split("-")
    return PointGATr(
        algebra=algebra,
        orientation=orientation,
        hidden_mv_channels=4,
        hidden_s_channels=4,
        **counts,
    ).double()


def _poison(t: torch.Tensor, token_mask: torch.Tensor, value: float) -> torch.Tensor:
    keep = token_mask.reshape(*token_mask.shape, *([1] * (t.ndim - token_mask.ndim)))
    return torch.where(keep, t, torch.full_like(t, value))


def _run(model, inputs, kwargs, token_mask):
    """Outputs and the gradients of a fixed function of the real outputs w.r.t. the inputs
    and the parameters."""
    model.zero_grad()
    inputs = [t.detach().clone().requires_grad_() if t is not None else None for t in inputs]
    outputs = model(*inputs, **kwargs)
    outputs = [t for t in outputs if t is not None]
    torch.manual_seed(5)
    loss = sum(
        (torch.randn_like(t) * t)[token_mask].sum() + t[token_mask].pow(2).sum() for t in outputs
    )
    loss.backward()
    grads = [t.grad for t in inputs if t is not None]
    params = [p.grad for p in model.parameters() if p.grad is not None]
    return [t.detach() for t in outputs], grads, params


def _assert_same(model, clean, poisoned, kwargs_clean, kwargs_poisoned, token_mask):
    out_c, grads_c, params_c = _run(model, clean, kwargs_clean, token_mask)
    out_p, grads_p, params_p = _run(model, poisoned, kwargs_poisoned, token_mask)
    assert params_c and len(params_c) == len(params_p)
    for a, b in zip(out_c, out_p):
        assert torch.isfinite(b).all()
        assert torch.equal(a, b)
        assert b[~token_mask].abs().sum() == 0  # outputs at padded tokens are zero
    for a, b in zip(grads_c, grads_p):
        assert torch.isfinite(b).all()
        assert torch.equal(a[token_mask], b[token_mask])
    for a, b in zip(params_c, params_p):
        assert torch.isfinite(b).all()
        assert torch.equal(a, b)
    return out_p


def _gatr_inputs(model, tokens=5, batch=3):
    torch.manual_seed(1)
    mv = torch.randn(batch, tokens, model.in_mv, model.algebra.dim, dtype=torch.float64)
    s = torch.randn(batch, tokens, model.in_s, dtype=torch.float64)
    return mv, s


def _padded_rows_masked(tokens_mask: torch.Tensor) -> torch.Tensor:
    """A boolean attention mask ``(B, 1, T, T)`` under which a padded query may attend to no
    key at all (real tokens attend to real tokens, padded queries to nothing)."""
    return tokens_mask[:, None, :, None] & tokens_mask[:, None, None, :]


@pytest.mark.parametrize(("masking", "poison"), CASES)
@pytest.mark.parametrize("variant", ["pga", "ipga", "cga"])
def test_gatr_padding_may_hold_anything(variant, masking, poison):
    model = _gatr(variant, check_finite=True)
    token_mask = lengths_to_mask(LENGTHS, 5)
    mv, s = _gatr_inputs(model)
    kwargs = {"token_mask": token_mask}
    if masking != "tokens":
        mask = _padded_rows_masked(token_mask)
        if masking == "tokens+additive":
            mask = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, -math.inf)
        kwargs["mask"] = mask
    out = _assert_same(
        model,
        (mv, s),
        (_poison(mv, token_mask, poison), _poison(s, token_mask, poison)),
        kwargs,
        kwargs,
        token_mask,
    )
    for i, n in enumerate(LENGTHS):  # each sample alone gives its real tokens
        if n:
            alone, alone_s = model(mv[i, :n], s[i, :n])
            assert (out[0][i, :n] - alone).abs().max() < 1e-12
            assert (out[1][i, :n] - alone_s).abs().max() < 1e-12


@pytest.mark.parametrize("poison", POISONS[:2])
def test_gatr_cross_attention_padding_may_hold_anything(poison):
    model = _gatr("ipga", context_mv_channels=2, context_s_channels=2)
    token_mask = lengths_to_mask(LENGTHS, 5)
    context_mask = lengths_to_mask([3, 0, 1], 4)  # one sample without any real context
    mv, s = _gatr_inputs(model)
    torch.manual_seed(2)
    cmv = torch.randn(3, 4, 2, model.algebra.dim, dtype=torch.float64)
    cs = torch.randn(3, 4, 2, dtype=torch.float64)

    def kwargs(cmv, cs):
        return {
            "token_mask": token_mask,
            "context_mv": cmv,
            "context_s": cs,
            "context_token_mask": context_mask,
            "context_mask": _padded_rows_masked(token_mask)[..., :1].expand(3, 1, 5, 4),
        }

    _assert_same(
        model,
        (_poison(mv, token_mask, poison), _poison(s, token_mask, poison)),
        (_poison(mv, token_mask, -poison), _poison(s, token_mask, poison)),
        kwargs(cmv, cs),
        kwargs(_poison(cmv, context_mask, poison), _poison(cs, context_mask, poison)),
        token_mask,
    )


@pytest.mark.parametrize("poison", POISONS[:2])
@pytest.mark.parametrize("kind", ["ega-fixed", "pga-average", "cga-fixed", "transformer"])
def test_point_models_padding_may_hold_anything(kind, poison):
    model = _point_model(kind)
    model.check_finite = True
    token_mask = lengths_to_mask(LENGTHS, 5)
    torch.manual_seed(1)
    inputs = (
        torch.randn(3, 5, 2, 3, dtype=torch.float64),
        torch.randn(3, 5, 1, 3, dtype=torch.float64),
        torch.randn(3, 5, 2, dtype=torch.float64),
    )
    for mask in (None, _padded_rows_masked(token_mask)):
        kwargs = {"token_mask": token_mask, "mask": mask}
        out = _assert_same(
            model,
            inputs,
            tuple(_poison(t, token_mask, poison) for t in inputs),
            kwargs,
            kwargs,
            token_mask,
        )
        alone = model(*(t[1, :2] for t in inputs))
        assert all((a - b[1, :2]).abs().max() < 1e-12 for a, b in zip(alone, out))


def test_check_finite_still_rejects_nan_at_real_tokens():
    model = _gatr("pga", check_finite=True)
    token_mask = lengths_to_mask(LENGTHS, 5)
    mv, s = _gatr_inputs(model)
    mv[1, 1, 0, 0] = math.nan  # a real token
    with pytest.raises(ValueError, match="mv contains NaN or infinity"):
        model(mv, s, token_mask=token_mask)
    points = _point_model("transformer")
    points.check_finite = True
    p = torch.randn(3, 5, 2, 3, dtype=torch.float64)
    p[1, 1] = math.inf
    with pytest.raises(ValueError, match="points contains NaN or infinity"):
        points(
            p,
            torch.zeros(3, 5, 1, 3).double(),
            torch.zeros(3, 5, 2).double(),
            token_mask=token_mask,
        )


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    poison=st.floats(allow_nan=True, allow_infinity=True, width=32),
    where=st.sampled_from(["mv", "s", "both"]),
)
def test_gatr_padding_property(lengths, poison, where):
    """Any lengths (samples without real tokens included), any float in the padding."""
    model = _gatr("ipga", num_blocks=1)
    token_mask = lengths_to_mask(lengths, 4)
    mv, s = _gatr_inputs(model, tokens=4, batch=len(lengths))
    bad_mv = _poison(mv, token_mask, poison) if where != "s" else mv
    bad_s = _poison(s, token_mask, poison) if where != "mv" else s
    kwargs = {"token_mask": token_mask}
    _assert_same(model, (mv, s), (bad_mv, bad_s), kwargs, kwargs, token_mask)


def test_zero_padding_replaces_anything_and_passes_no_gradient_there():
    token_mask = lengths_to_mask([2, 0], 3)
    t = torch.tensor([[1.0, 2.0, math.nan], [math.inf, -1e300, math.nan]]).requires_grad_()
    out = zero_padding(t[..., None], token_mask)
    assert torch.equal(out[..., 0], torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]))
    out.sum().backward()
    assert torch.equal(t.grad, token_mask.float())
    assert zero_padding(t, None) is t and zero_padding(None, token_mask) is None


@pytest.mark.parametrize("kind", [None, "bool", "additive"])
def test_attention_mask_leaves_no_row_fully_masked(kind):
    token_mask = lengths_to_mask([3, 1, 0], 3)
    mask = None
    if kind is not None:  # real tokens see real tokens only; padded queries see nothing
        mask = token_mask[:, None, :, None] & token_mask[:, None, None, :]
        if kind == "additive":
            mask = torch.zeros(mask.shape).masked_fill(~mask, -math.inf)
    out = attention_mask(mask, token_mask, (3,), 2, 3, 3, torch.float32, query_mask=token_mask)
    allowed = out if out.dtype == torch.bool else out > -math.inf
    allowed = allowed.expand(3, 2, 3, 3)
    assert allowed.any(-1).all()  # every row attends to some key
    real = token_mask[:, None, :, None] & token_mask[:, None, None, :]
    has_keys = token_mask.any(-1)[:, None, None, None]
    # rows of real queries in samples with real keys: exactly the real keys
    assert torch.equal(allowed & has_keys & token_mask[:, None, :, None], real.expand(3, 2, 3, 3))
