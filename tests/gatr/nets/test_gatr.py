"""GATr end to end: E(3) (or O(3), or Pin) and permutation equivariance for every variant in
float64 and float32, with and without masks; batching, padding, checkpointing, dropout, errors."""

from __future__ import annotations

import pytest
import torch

from noether.gatr import GATr
from noether.gatr.primitives import lengths_to_mask
from noether.gatr.symmetry import gatr_equivariance_error

TRANSLATION = 0.5  # per-axis standard deviation of the test translations (unit-scale data)


def _model(variant, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    args = dict(in_mv_channels=2, out_mv_channels=3, hidden_mv_channels=4, in_s_channels=3)
    args |= dict(out_s_channels=2, hidden_s_channels=4, num_blocks=2, num_heads=2) | kwargs
    return GATr(algebra=variant, **args).to(dtype)


def _inputs(model, batch=(2,), tokens=5, dtype=torch.float64):
    mv = torch.randn(*batch, tokens, model.in_mv, model.algebra.dim, dtype=dtype)
    s = torch.randn(*batch, tokens, model.in_s, dtype=dtype)
    return mv, s


def _masks(kind, tokens=5):
    if kind == "attention":  # random, with the diagonal allowed; per sample, shared by heads
        mask = torch.rand(2, 1, tokens, tokens) > 0.4
        mask[..., torch.arange(tokens), torch.arange(tokens)] = True
        return mask, None
    if kind == "tokens":
        return None, lengths_to_mask([tokens, tokens - 2])
    return None, None


@pytest.mark.parametrize("masking", [None, "attention", "tokens"])
def test_equivariance(variant, dtype, tolerance, masking, permuted_error):
    model = _model(variant, dtype)
    mv, s = _inputs(model, dtype=dtype)
    mask, token_mask = _masks(masking)
    err = gatr_equivariance_error(
        model, mv, s, mask, token_mask=token_mask, translation=TRANSLATION, n_samples=3
    )
    assert err < tolerance, f"{variant} {dtype} {masking}: {err:.2e}"

    def fn(mv, s, mask, token_mask):
        return model(mv, s, mask, token_mask=token_mask)

    assert permuted_error(fn, mv, s, mask, token_mask, torch.Generator().manual_seed(1)) < tolerance


def test_multi_query_and_no_scalars_are_equivariant(variant, float64):
    model = GATr(
        algebra=variant,
        in_mv_channels=1,
        out_mv_channels=1,
        hidden_mv_channels=4,
        in_s_channels=0,
        out_s_channels=0,
        hidden_s_channels=0,
        num_blocks=1,
        num_heads=2,
        multi_query=True,
    )
    mv = torch.randn(3, 4, 1, model.algebra.dim)
    assert gatr_equivariance_error(model, mv, translation=TRANSLATION) < 1e-9
    assert model(mv)[1] is None


def test_batched_equals_unbatched(float64):
    model = _model("ipga")
    mv, s = _inputs(model, batch=(2, 3))
    out, out_s = model(mv, s)
    for i in range(2):
        for j in range(3):
            one, one_s = model(mv[i, j], s[i, j])
            assert (one - out[i, j]).abs().max() < 1e-12 and (
                one_s - out_s[i, j]
            ).abs().max() < 1e-12


@pytest.mark.parametrize("name", ["pga", "cga"])
def test_variable_length_equals_padded(name, float64):
    model = _model(name)
    lengths = [5, 2, 4]
    samples = [_inputs(model, batch=(), tokens=n) for n in lengths]
    mv = torch.zeros(3, 5, model.in_mv, model.algebra.dim)
    s = torch.zeros(3, 5, model.in_s)
    for i, (m, sc) in enumerate(samples):
        mv[i, : lengths[i]], s[i, : lengths[i]] = m, sc
    mv[1, 2:] = 7.0  # garbage in the padding must not matter
    out, out_s = model(mv, s, token_mask=lengths_to_mask(lengths))
    for i, (m, sc) in enumerate(samples):
        alone, alone_s = model(m, sc)
        assert (out[i, : lengths[i]] - alone).abs().max() < 1e-12
        assert (out_s[i, : lengths[i]] - alone_s).abs().max() < 1e-12
        assert out[i, lengths[i] :].abs().sum() == 0


def test_additive_mask_equals_boolean(float64):
    model = _model("pga")
    mv, s = _inputs(model)
    mask, _ = _masks("attention")
    additive = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, float("-inf"))
    a, b = model(mv, s, mask)[0], model(mv, s, additive)[0]
    assert (a - b).abs().max() < 1e-12


@pytest.mark.parametrize("checkpoint", [True, ("attention",), ("mlp", "attention")], ids=str)
def test_checkpointing_keeps_gradients(checkpoint, float64):
    plain, ckpt = _model("ipga"), _model("ipga", checkpoint=checkpoint)
    mv, s = _inputs(plain)
    grads = []
    for model in (plain, ckpt):
        model.train()
        out, out_s = model(mv, s)
        (out.square().sum() + out_s.sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert (grads[0] - grads[1]).abs().max() < 1e-12


def test_dropout(float64):
    model = _model("pga", dropout=0.5)
    mv, s = _inputs(model)
    model.eval()
    assert torch.equal(model(mv, s)[0], _model("pga")(mv, s)[0])
    model.train()
    torch.manual_seed(3)
    first = model(mv, s)[0]
    torch.manual_seed(3)
    assert torch.equal(first, model(mv, s)[0]) and not torch.equal(first, model(mv, s)[0])


def test_double_backward(float64):
    """Forces through the network: the fused kernels' second derivatives are exact."""
    model = _model("ipga", num_blocks=1)
    mv, s = _inputs(model, batch=(1,), tokens=2)

    def energy_gradient(mv):
        out, out_s = model(mv, s)
        energy = out_s.sum() + out.square().sum()
        return torch.autograd.grad(energy, mv, create_graph=True)[0]

    mv.requires_grad_()
    assert torch.autograd.gradcheck(energy_gradient, (mv,), fast_mode=True)


def test_reference_argument(float64):
    model = _model("pga")
    mv, s = _inputs(model)
    mean = mv.mean((1, 2))
    assert (model(mv, s)[0] - model(mv, s, reference=mean)[0]).abs().max() < 1e-12
    assert not torch.equal(model(mv, s)[0], model(mv, s, reference=2 * mean)[0])


def test_bad_inputs():
    model = _model("pga", torch.float32, check_finite=True)
    mv, s = _inputs(model, dtype=torch.float32)
    with pytest.raises(
        ValueError, match=r"mv must have shape \(\.\.\., tokens, 2, 16\).*got \(2, 5, 2, 15\)"
    ):
        model(mv[..., :15], s)
    with pytest.raises(ValueError, match=r"got \(2, 5, 1, 16\)"):
        model(mv[..., :1, :], s)
    with pytest.raises(
        ValueError,
        match=r"s must be torch.float32 of shape .*\(2, 5, 3\), got torch.float32 \(2, 5, 2\)",
    ):
        model(mv, s[..., :2])
    with pytest.raises(ValueError, match=r"s of shape .* is required"):
        model(mv)
    with pytest.raises(ValueError, match=r"mask of shape \(3, 5, 5\) does not broadcast"):
        model(mv, s, torch.ones(3, 5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"token_mask must have shape .*\(2, 5\), got \(2, 4\)"):
        model(mv, s, token_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"mv is torch\.float64 on cpu but the parameters are torch\.float32"
    ):
        model(mv.double(), s.double())
    bad = mv.clone()
    bad[1, 2, 0, 3] = float("nan")
    with pytest.raises(
        ValueError, match=r"mv contains NaN or infinity \(first at index \[1, 2, 0, 3\]\)"
    ):
        model(bad, s)
    with pytest.raises(ValueError, match="no tokens"):
        model(mv[:, :0], s[:, :0])
    with pytest.raises(ValueError, match="in_s_channels is 0"):
        GATr(
            algebra="pga",
            in_mv_channels=2,
            out_mv_channels=1,
            hidden_mv_channels=4,
            in_s_channels=0,
            out_s_channels=0,
            hidden_s_channels=4,
            num_blocks=1,
            num_heads=2,
        )(mv, s)
    with pytest.raises(ValueError, match="num_heads must be an int >= 1, got 0"):
        GATr(algebra="pga", num_heads=0)
    with pytest.raises(ValueError, match="checkpoint must be True, False or a subset"):
        GATr(algebra="pga", checkpoint="everything")
    with pytest.raises(ValueError, match="unknown GATr variant"):
        GATr(algebra="spacetime")


def _cross_model(variant, dtype=torch.float64, **kwargs):
    return _model(variant, dtype, context_mv_channels=2, context_s_channels=1, **kwargs)


@pytest.mark.parametrize("masking", [None, "masks"])
def test_cross_attention_equivariance(variant, dtype, tolerance, masking):
    """Cross-attention to a context that moves with the data keeps every variant equivariant."""
    from noether.gatr.symmetry import euclidean_sample
    from noether.testing import equivariance_error

    model = _cross_model(variant, dtype)
    mv, s = _inputs(model, dtype=dtype)
    context = torch.randn(2, 4, 2, model.algebra.dim, dtype=dtype)
    context_s = torch.randn(2, 4, 1, dtype=dtype)
    masks = {}
    if masking:
        mask = torch.rand(2, 1, 5, 4) > 0.4
        mask[..., 0] = True  # every query sees a real context token
        masks = dict(context_mask=mask, context_token_mask=lengths_to_mask([4, 3]))

    def fn(mv, s, context, context_s):
        return model(mv, s, context_mv=context, context_s=context_s, **masks)

    actions = ("multivector", "scalar", "multivector", "scalar")
    sample = euclidean_sample(
        model.algebra, actions, ("multivector", "scalar"), translation=TRANSLATION
    )
    err = equivariance_error(fn, (mv, s, context, context_s), sample, n_samples=3)
    assert err < tolerance, f"{variant} {dtype} {masking}: {err:.2e}"


def test_cross_attention_masks_and_padding(float64):
    model = _cross_model("ipga")
    mv, s = _inputs(model)
    context = torch.randn(2, 4, 2, 16)
    context_s = torch.randn(2, 4, 1)
    out = model(mv, s, context_mv=context, context_s=context_s)[0]
    other = torch.randn_like(context)
    assert not torch.equal(out, model(mv, s, context_mv=other, context_s=context_s)[0])
    # a padded context equals the shorter context alone; padding holds garbage
    padded, padded_s = context.clone(), context_s.clone()
    padded[1, 3], padded_s[1, 3] = 9.0, -9.0
    got = model(
        mv,
        s,
        context_mv=padded,
        context_s=padded_s,
        context_token_mask=lengths_to_mask([4, 3]),
    )[0]
    alone = model(mv[1], s[1], context_mv=context[1, :3], context_s=context_s[1, :3])[0]
    assert (got[1] - alone).abs().max() < 1e-12
    # boolean and additive context masks agree
    mask = torch.rand(2, 1, 5, 4) > 0.4
    mask[..., 0] = True
    additive = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    a = model(mv, s, context_mv=context, context_s=context_s, context_mask=mask)[0]
    b = model(mv, s, context_mv=context, context_s=context_s, context_mask=additive)[0]
    assert (a - b).abs().max() < 1e-12 and (a - out).abs().max() > 1e-6


def test_cross_attention_errors():
    model = _cross_model("pga", torch.float32)
    mv, s = _inputs(model, dtype=torch.float32)
    context, context_s = torch.randn(2, 4, 2, 16), torch.randn(2, 4, 1)
    with pytest.raises(ValueError, match=r"context_mv of shape .* is required"):
        model(mv, s)
    with pytest.raises(
        ValueError,
        match=r"context_mv must be torch.float32 of shape .*got torch.float32 \(2, 4, 3, 16\)",
    ):
        model(mv, s, context_mv=torch.randn(2, 4, 3, 16), context_s=context_s)
    with pytest.raises(
        ValueError, match=r"context_s must be .*\(2, 4, 1\), got torch.float32 \(2, 4, 2\)"
    ):
        model(mv, s, context_mv=context, context_s=torch.randn(2, 4, 2))
    with pytest.raises(
        ValueError, match=r"mask of shape \(2, 1, 5, 5\) does not broadcast to .*\(2, 2, 5, 4\)"
    ):
        model(
            mv,
            s,
            context_mv=context,
            context_s=context_s,
            context_mask=torch.ones(2, 1, 5, 5, dtype=torch.bool),
        )
    with pytest.raises(ValueError, match=r"token_mask must have shape .*\(2, 4\), got \(2, 5\)"):
        model(
            mv,
            s,
            context_mv=context,
            context_s=context_s,
            context_token_mask=torch.ones(2, 5, dtype=torch.bool),
        )
    with pytest.raises(ValueError, match="has no cross-attention"):
        _model("pga", torch.float32)(mv, s, context_mv=context)
    with pytest.raises(ValueError, match="context_s_channels needs context_mv_channels"):
        GATr(algebra="pga", context_s_channels=2)
