"""Analytic FLOP counts equal what torch's FlopCounterMode measures, forward and backward."""

from __future__ import annotations

import pytest
import torch

from noether.studies.scaling.flops import measure_flops, training_flops
from noether.studies.scaling.models import RigidTransformer
from noether.studies.scaling.task import masked_mse

from .test_tokens import random_scene


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
