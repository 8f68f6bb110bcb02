"""Analytic FLOP counts equal what torch's FlopCounterMode measures, forward and backward."""

from __future__ import annotations

import pytest
import torch
from sims_testkit import random_scene

from noether.sims.rigid.models import RigidTransformer
from noether.sims.rigid.task import masked_mse
from noether.studies.scaling.flops import measure_flops, training_flops


def _scene(b, t, p):
    scene = random_scene(b=b, t=t, p=p, dtype=torch.float32)
    return scene


@pytest.mark.parametrize(("channels", "blocks", "heads"), [(16, 1, 2), (48, 3, 4)])
def test_transformer_flops_match_the_counter(channels, blocks, heads):
    b, t, p = 3, 5, 4
    model = RigidTransformer(points_per_body=p, channels=channels, blocks=blocks, heads=heads)
    scene = _scene(b, t, p)
    measured = measure_flops(lambda: masked_mse(model(scene), scene["target"], scene["mask"]))
    analytic = training_flops(model, b, t)
    assert measured == (analytic.total_forward, analytic.total_backward)
    assert analytic.forward["attention"] > 0


def test_flops_scale_with_batch_and_tokens():
    model = RigidTransformer(points_per_body=4, channels=16, blocks=2, heads=2)
    one = training_flops(model, 1, 6)
    assert training_flops(model, 5, 6).total == pytest.approx(5 * one.total)
    longer = training_flops(model, 1, 12)
    assert longer.forward["linear"] == pytest.approx(2 * one.forward["linear"])
    assert longer.forward["attention"] == pytest.approx(4 * one.forward["attention"])


def _gatr(algebra="ipga", **kw):
    from torch import nn

    from noether.sims.rigid.models import RigidGATr

    model = RigidGATr(
        points_per_body=4, mv_channels=4, s_channels=8, blocks=2, heads=2, algebra=algebra, **kw
    ).double()
    for p in model.output_layer.parameters():
        nn.init.normal_(p)
    return model


def _per_samples(model, b, t, p):
    """Measured FLOPs of ``b`` more samples: the difference of batches of ``2 b`` and ``b``, which
    removes the work done once per call (preparing weights) whatever the batch."""

    def measure(batch):
        scene = random_scene(b=batch, t=t, p=p)
        return measure_flops(lambda: masked_mse(model(scene), scene["target"], scene["mask"]))

    (f2, b2), (f1, b1) = measure(2 * b), measure(b)
    return f2 - f1, b2 - b1


@pytest.mark.parametrize("algebra", ["pga", "ipga"])
def test_gatr_structured_flops_match_the_counter(algebra):
    """The counter sees every matrix product of noether's sparse GATr; the bilinear products run
    as fused elementwise row operations, which it does not count (as it counts no elementwise
    work), so they are compared apart."""
    b, t, p = 3, 5, 4
    model = _gatr(algebra)
    measured = _per_samples(model, b, t, p)
    analytic = training_flops(model, b, t, mode="structured")
    assert measured == (
        analytic.total_forward - analytic.forward["bilinear"],
        analytic.total_backward - analytic.backward["bilinear"],
    )
    # PGA's tables: 192 terms per geometric product, 81 per join
    gp, join = model.net.blocks[0].mlp.bilinear.n_gp, model.net.blocks[0].mlp.bilinear.n_join
    assert analytic.forward["bilinear"] == 2 * b * t * 2 * (192 * gp + 81 * join)


def test_gatr_dense_flops_match_the_counter_on_the_dense_reference():
    from noether.studies.scaling.gatr_flops import dense_reference

    b, t, p = 2, 6, 4
    model, scene = _gatr(), random_scene(b=b, t=t, p=p)
    sparse = model(scene)
    with dense_reference():
        torch.testing.assert_close(model(scene), sparse, atol=1e-10, rtol=0)
        measured = _per_samples(model, b, t, p)
    analytic = training_flops(model, b, t, mode="dense")
    assert measured == (analytic.total_forward, analytic.total_backward)


def test_gatr_dense_count_is_the_nominal_convention():
    """Per token, a multivector channel pair costs 2 * 256 FLOPs forward (dense) against
    2 * 24 (structured) in PGA; per sample the structured count is several times smaller."""
    model = _gatr()
    dense, structured = (training_flops(model, 1, 8, mode=m) for m in ("dense", "structured"))
    assert dense.forward["attention"] == structured.forward["attention"]
    assert 5 < dense.total / structured.total < 15
    with pytest.raises(ValueError, match="mode must be one of"):
        training_flops(model, 1, 8, mode="sparse")
